"""parley.core.mentions: which @tokens name which members."""

from __future__ import annotations

from parley.core import mentions

MEMBERS = {"bob": 2, "bobby": 3, "bob.": 4, "ann_lee": 5}


def test_a_token_runs_to_the_first_character_no_username_has() -> None:
    assert mentions.resolve("@bob @bobby @BOBBY!", {"bob": 2, "bobby": 3}) == [2, 3]
    assert mentions.resolve("@bobb or @bobbyy", MEMBERS) == []  # no prefix or partial match
    assert mentions.resolve("(@ann_lee), @Ann_Lee", MEMBERS) == [5]


def test_an_at_inside_a_word_is_no_mention() -> None:
    assert mentions.resolve("mail bob@bobby.org or x@bob", MEMBERS) == []
    assert mentions.candidates("a@bob") == []


def test_trailing_dots_fall_back_only_when_no_one_has_the_dotted_name() -> None:
    assert mentions.resolve("thanks @bob.", {"bob": 2}) == [2]
    assert mentions.resolve("thanks @bob.", MEMBERS) == [4]  # "bob." is a username of its own
    assert mentions.resolve("@bob...", {"bob": 2}) == [2]


def test_names_too_short_or_too_long_are_not_looked_up_and_the_list_is_bounded() -> None:
    assert mentions.candidates("@ab @" + "x" * 33) == []
    many = " ".join(f"@user{i:03}" for i in range(50))
    assert len(mentions.candidates(many)) == mentions.NAMES_MAX
    assert mentions.resolve(many, {"user049": 9}) == []  # beyond the bound: not looked up, not resolved
