"""Field rules in parley.core.validation: each accepts what the rules allow and names the field it refuses."""

from __future__ import annotations

import pytest

from parley.core import glyphs
from parley.core import validation as v
from parley.core.errors import Invalid
from parley.core.privacy import placeholder_username, upload_file_name

# --- usernames ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["abc", "a" * 32, "Ann_Lee", "bob-2", "c.d.e", "___", "123", "A.b-C_9"])
def test_username_accepts_3_to_32_of_letters_digits_underscore_dash_dot(name: str) -> None:
    assert v.username(name) == name


@pytest.mark.parametrize("name", ["", "ab", "a" * 33, "ann lee", "ann@x", "ann/..", "ünï", "张伟伟",
                                  "ann\n", "ann\x00", " ann", None, 123, ["ann"]])
def test_username_refuses_everything_else(name: object) -> None:
    with pytest.raises(Invalid, match="username") as info:
        v.username(name)
    assert info.value.code == "invalid"
    assert info.value.status == 422


# --- display names --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Ann", "张伟", "Zoë Ñúñez", "Ανδρέας", "محمد", "🙂 smile", "中" * 64])
def test_display_name_accepts_any_unicode_up_to_64(name: str) -> None:
    assert v.display_name(name) == name


def test_display_name_over_64_characters_is_refused_even_in_chinese() -> None:
    with pytest.raises(Invalid, match="display_name must be at most 64"):
        v.display_name("中" * 65)


def test_display_name_collapses_whitespace_and_is_nfc() -> None:
    assert v.display_name("  Ann \t  Lee\n") == "Ann Lee"
    decomposed = "Zoe\u0308"  # e + combining diaeresis
    assert v.display_name(decomposed) == "Zo\u00eb"


@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
def test_display_name_must_not_be_empty(name: str) -> None:
    with pytest.raises(Invalid, match="display_name must not be empty"):
        v.display_name(name)


@pytest.mark.parametrize("bad", ["a\x00b", "bell\x07", "esc\x1b[31m", "del\x7f", "c1\x9b"])
def test_display_name_refuses_control_characters(bad: str) -> None:
    with pytest.raises(Invalid, match="display_name must not contain control characters"):
        v.display_name(bad)


@pytest.mark.parametrize("bad", [None, 5, b"Ann", ["Ann"]])
def test_display_name_must_be_a_string(bad: object) -> None:
    with pytest.raises(Invalid, match="display_name must be a string"):
        v.display_name(bad)


# --- invisible characters in names (issue 7, finding 5) ------------------------------------

# Each renders as nothing, or as a name it is not: refused in display names, room names and topics.
HIDDEN = {
    "zwsp inside": "Ann\u200bLee",
    "zwsp twice": "\u200b\u200b",
    "hangul filler": "\u3164",
    "halfwidth hangul filler": "\uffa0",
    "hangul choseong filler": "\u115f",
    "hangul jungseong filler": "\u1160",
    "braille blank": "\u2800",
    "braille blank in a name": "Ann\u2800",
    "mongolian vowel separator": "Ann\u180e",
    "zwj alone": "\u200d",
    "zwnj alone": "\u200c",
    "zwj between latin letters": "An\u200dn",
    "zwnj between latin letters": "An\u200cn",
    "lrm": "Ann\u200e",
    "rlm": "\u200fAnn",
    "alm": "Ann\u061c",
    "bom": "\ufeffAnn",
    "word joiner": "An\u2060n",
    "soft hyphen": "An\u00adn",
    "tag characters": "Ann\U000e0041\U000e007f",
    "tag characters alone": "\U000e0001\U000e0020",
    "subdivision flag (tags)": "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",
    "vs16 alone": "\ufe0f",
    "vs16 after a letter": "Ann\ufe0f",
    "ideographic variation selector alone": "\U000e0100",
    "ideographic variation selector after latin": "Ann\U000e0100",
    "grapheme joiner": "Ann\u034f",
    "khmer inherent vowel": "\u17b4",
    "combining mark with no base": "\u0301Ann",
    "combining mark after a space": "Ann \u0301",
}


@pytest.mark.parametrize("bad", HIDDEN.values(), ids=HIDDEN.keys())
def test_display_name_refuses_invisible_and_format_characters(bad: str) -> None:
    with pytest.raises(Invalid, match="^display_name must not contain invisible or formatting characters$") as info:
        v.display_name(bad)
    assert (info.value.code, info.value.status) == ("invalid", 422)


@pytest.mark.parametrize("bad", HIDDEN.values(), ids=HIDDEN.keys())
def test_room_name_and_topic_refuse_invisible_and_format_characters(bad: str) -> None:
    with pytest.raises(Invalid, match="^name must not contain invisible or formatting characters$"):
        v.room_name(bad)
    with pytest.raises(Invalid, match="^topic must not contain invisible or formatting characters$"):
        v.topic(f"Welcome {bad}")


@pytest.mark.parametrize("bad", ["\u202eecila", "Ann\u2066x\u2069"])
def test_names_refuse_bidi_overrides_and_isolates(bad: str) -> None:
    with pytest.raises(Invalid, match="display_name must not contain control characters"):
        v.display_name(bad)
    with pytest.raises(Invalid, match="name must not contain control characters"):
        v.room_name(bad)


@pytest.mark.parametrize("bad", ["\ue000", "Ann\U000f0000", "Ann\U0010ffff", "Ann\u0378"])
def test_names_refuse_private_use_and_unassigned_characters(bad: str) -> None:
    with pytest.raises(Invalid, match="display_name must not contain unassigned or private-use characters"):
        v.display_name(bad)


@pytest.mark.parametrize("bad", ["\u20e3", "\u0903\u0903"])
def test_display_name_needs_a_visible_character(bad: str) -> None:
    with pytest.raises(Invalid, match="^display_name must contain a visible character$"):
        v.display_name(bad)
    with pytest.raises(Invalid, match="^name must contain a visible character$"):
        v.room_name(bad)


LEGITIMATE = {
    "chinese": "张伟",
    "arabic": "محمد",
    "hindi with combining marks": "प्रियंका शर्मा",
    "devanagari zwj after virama": "श्\u200dरी",
    "sinhala zwj after virama": "ශ්\u200dරී",
    "persian zwnj between letters": "حسین\u200cزاده",
    "persian zwnj after a vowel mark": "مِی\u200cخواهم",
    "hebrew with points": "שָׁלוֹם",
    "vietnamese": "Nguyễn Thị Minh Khai",
    "thai": "สมชาย",
    "emoji": "🙂 smile",
    "emoji zwj sequence": "👩\u200d💻 Ann",
    "zwj sequence with skin tone": "👩🏽\u200d💻",
    "zwj sequence with vs16": "🏳\ufe0f\u200d🌈",
    "heart on fire": "❤\ufe0f\u200d🔥",
    "family": "👨\u200d👩\u200d👧",
    "flags": "🇨🇳 🇺🇸 Team",
    "skin tone": "👍🏽 Bob",
    "vs16 after emoji": "Ann ❤\ufe0f",
    "vs15 text presentation": "☺\ufe0e",
    "keycap": "Room 1\ufe0f\u20e3",
    "japanese ideographic variant": "葛\U000e0100城",
    "emoji newer than python's unicode tables": "\U0001fa77 \U0001faf8\U0001f3fd",
}


@pytest.mark.parametrize("name", LEGITIMATE.values(), ids=LEGITIMATE.keys())
def test_legitimate_names_in_every_script_and_emoji_are_kept(name: str) -> None:
    assert v.display_name(name) == name
    assert v.room_name(name) == name
    assert v.topic(f"About {name}") == f"About {name}"


@pytest.mark.parametrize(("shown", "reads_as"), [
    ("alice", "alice"), ("ALICE", "alice"), ("Ａｌｉｃｅ", "alice"), ("@alice", "alice"), ("@ Alice", "alice"),
    ("\u0430lice", "alice"), ("\u0410LICE", "alice"), ("b\u03bfb", "bob"), ("ﬁona", "fiona"), ("张伟", "张伟"),
])
def test_username_fold_reads_a_display_name_as_a_username(shown: str, reads_as: str) -> None:
    assert glyphs.username_fold(shown) == reads_as


def test_usernames_read_in_a_display_name_include_each_at_name() -> None:
    assert glyphs.usernames_read_in("Bob @bob") == {"bob @bob", "bob"}
    assert glyphs.usernames_read_in("Team (@Ann_Lee, @b\u043eb)") == {"team (@ann_lee, @bob)", "ann_lee", "bob"}
    assert glyphs.usernames_read_in("@ carol") == {"carol"}


# --- passwords ------------------------------------------------------------------------------


@pytest.mark.parametrize("pw", ["x7#Kq!2m", "Correct-Horse-Battery-9", "z" * 7 + "Q" + "9" * 248, "密码很长很长很长很长"])
def test_password_accepts_8_to_256_uncommon(pw: str) -> None:
    assert 8 <= len(pw) <= 256
    assert v.password(pw) == pw


@pytest.mark.parametrize("pw", ["", "x7#Kq!2", "Q" * 257])
def test_password_length_bounds(pw: str) -> None:
    with pytest.raises(Invalid, match="password must be 8 to 256 characters long"):
        v.password(pw)


@pytest.mark.parametrize("pw", ["password123", "qwertyuiop", "PASSWORD123", "QwErTyUiOp", "12345678"])
def test_password_in_the_common_list_is_refused_ignoring_case(pw: str) -> None:
    with pytest.raises(Invalid, match="password is too common"):
        v.password(pw)


def test_common_list_is_loaded_and_large() -> None:
    common = v.common_passwords()
    assert len(common) > 10_000
    assert {"password123", "qwertyuiop"} <= common


@pytest.mark.parametrize("pw", ["annabelle99", "ANNABELLE99", "AnnaBelle99"])
def test_password_equal_to_username_ignoring_case_is_refused(pw: str) -> None:
    with pytest.raises(Invalid, match="password"):
        v.password(pw, username="annabelle99")
    # the same password for someone else is fine
    assert v.password(pw, username="someone") == pw


def test_password_error_names_the_given_field() -> None:
    with pytest.raises(Invalid, match="new_password must be 8"):
        v.password("short", field="new_password")
    with pytest.raises(Invalid, match="new_password must be a string"):
        v.password(12345678, field="new_password")


# --- room names and topics ------------------------------------------------------------------


def test_room_name_cap_is_80() -> None:
    assert v.room_name("r" * 80) == "r" * 80
    assert v.room_name("大厅") == "大厅"
    with pytest.raises(Invalid, match="name must be at most 80"):
        v.room_name("r" * 81)
    with pytest.raises(Invalid, match="name must not be empty"):
        v.room_name("  ")
    with pytest.raises(Invalid, match="name must not contain control characters"):
        v.room_name("gen\x00eral")


def test_topic_cap_is_500_and_may_be_empty() -> None:
    assert v.topic("") == ""
    assert v.topic("t" * 500) == "t" * 500
    with pytest.raises(Invalid, match="topic must be at most 500"):
        v.topic("t" * 501)
    with pytest.raises(Invalid, match="topic must not contain control characters"):
        v.topic("hi\x1b")


# --- message text ---------------------------------------------------------------------------


def test_message_text_keeps_newlines_and_tabs() -> None:
    assert v.message_text("line 1\n\tline 2\n", 100) == "line 1\n\tline 2\n"


def test_message_text_normalises_line_ends_and_nfc() -> None:
    assert v.message_text("a\r\nb\rc\tQ", 100) == "a\nb\nc\tQ"
    assert v.message_text("Zoe\u0308", 100) == "Zo\u00eb"


def test_message_text_limits() -> None:
    assert v.message_text("你" * 10, 10) == "你" * 10
    with pytest.raises(Invalid, match="text must be at most 10"):
        v.message_text("你" * 11, 10)
    with pytest.raises(Invalid, match="text must not be empty"):
        v.message_text(" \n\t ", 10)
    with pytest.raises(Invalid, match="text must not contain control characters"):
        v.message_text("ding\x07", 10)
    with pytest.raises(Invalid, match="text must be a string"):
        v.message_text(42, 10)


# --- client_msg_id --------------------------------------------------------------------------


@pytest.mark.parametrize("cid", ["a", "c-1", "x" * 64, "唯一"])
def test_client_msg_id_1_to_64(cid: str) -> None:
    assert v.client_msg_id(cid) == cid


def test_client_msg_id_absent_is_none() -> None:
    assert v.client_msg_id(None) is None


@pytest.mark.parametrize("cid", ["", "x" * 65, 7, True, ["c-1"]])
def test_client_msg_id_refused(cid: object) -> None:
    with pytest.raises(Invalid, match="client_msg_id must be a string of 1 to 64"):
        v.client_msg_id(cid)


# --- integers, room ids, username lists ----------------------------------------------------


@pytest.mark.parametrize("bad", [True, False, -1, 1.0, "3", None, 2**62 + 1])
def test_positive_int_refuses_non_integers_bools_and_negatives(bad: object) -> None:
    with pytest.raises(Invalid, match="seq must be a non-negative integer"):
        v.positive_int(bad, "seq")


def test_positive_int_bounds() -> None:
    assert v.positive_int(0, "seq") == 0
    assert v.positive_int(2**62, "seq") == 2**62


def test_room_id_takes_digit_strings_as_object_keys() -> None:
    assert v.room_id(7) == 7
    assert v.room_id("7") == 7
    with pytest.raises(Invalid, match="cursors key must be"):
        v.room_id("-7", "cursors key")
    with pytest.raises(Invalid, match="room must be"):
        v.room_id("7a")
    with pytest.raises(Invalid, match="room must be"):
        v.room_id("9" * 19)


@pytest.mark.parametrize("weird", ["²", "①", "1²"], ids=["superscript-two", "circled-one", "one-superscript-two"])
def test_room_id_non_ascii_digits_are_invalid_not_a_crash(weird: str) -> None:
    """str.isdigit() is true for '²' and '①', which int() cannot parse: that must be Invalid, not ValueError."""
    with pytest.raises(Invalid, match="room must be"):
        v.room_id(weird)


def test_usernames_list() -> None:
    assert v.usernames(["ann", "bob"], max_count=9) == ["ann", "bob"]
    with pytest.raises(Invalid, match="usernames must be a non-empty list"):
        v.usernames([], max_count=9)
    with pytest.raises(Invalid, match="usernames must be a non-empty list"):
        v.usernames("ann", max_count=9)
    with pytest.raises(Invalid, match="at most 2"):
        v.usernames(["ann", "bob", "cid"], max_count=2)
    with pytest.raises(Invalid, match="username"):
        v.usernames(["ann", "x"], max_count=9)


def test_deleted_account_placeholders_cannot_be_registered() -> None:
    taken = placeholder_username()
    assert v.USERNAME_RE.fullmatch(taken)  # a valid username on the wire...
    for name in (taken, taken.upper()):
        with pytest.raises(Invalid):  # ...that nobody can register
            v.username(name)
    assert v.username("deleted-bob") == "deleted-bob"
    assert upload_file_name(7, "../a/b\\c.txt") == "uploads/7-_a_b_c.txt"  # never a path out of uploads/
    assert upload_file_name(8, "..") == "uploads/8-file"
