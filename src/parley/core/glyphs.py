"""What a name may hold so that what a reader sees is what it is: no invisible or formatting
characters (outside the few contexts where a script or an emoji needs them), at least one visible
glyph, and a fold that tells when a display name reads as someone's username."""

from __future__ import annotations

import re
import unicodedata

# Characters that draw nothing although most are letters, symbols or marks rather than format
# characters (Cf): Hangul fillers, the blank braille cell, the Mongolian vowel separator (a space in
# older Unicode), the grapheme joiner, Khmer's inherent vowels and a blank musical notehead.
# Whitespace is collapsed before this is consulted.
BLANK_GLYPHS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e\u034f\u17b4\u17b5\U0001d159")
ZWNJ, ZWJ = "\u200c", "\u200d"
EMOJI_MODIFIERS = range(0x1F3FB, 0x1F400)
VS15, VS16 = "\ufe0e", "\ufe0f"
KEYCAP_BASES = frozenset("0123456789#*")
EMOJI_PUNCTUATION = frozenset("\u203c\u2049\u3030\u303d")  # ‼ ⁉ 〰 〽 have emoji forms
JOINING_SCRIPTS = ("ARABIC LETTER", "SYRIAC LETTER", "NKO LETTER", "MANDAIC LETTER", "MONGOLIAN LETTER")
VIRAMA = 9  # canonical combining class of Indic viramas
_AT_NAME = re.compile(r"@\s*([a-z0-9_.\-]+)")
# Cyrillic and Greek letters drawn like Latin ones: a small, hand-picked part of Unicode's
# confusables table, enough that "аlice" (Cyrillic а) reads as "alice".
_LOOKALIKES = str.maketrans("аеорсухіјѕԁһԛԝʏɡɑıαοριντκχϲϳ", "aeopcyxijsdhqwygaiaopivtkxcj")


def invalid_char(value: str) -> str | None:
    """Why `value` (already NFC with whitespace collapsed) cannot be shown as a name, or None."""
    for i, char in enumerate(value):
        category = _category(char)
        if category in ("Cn", "Co", "Cs"):
            return "must not contain unassigned or private-use characters"
        if char in BLANK_GLYPHS or (category in ("Cf", "Mn") and not _allowed_in_context(value, i)):
            return "must not contain invisible or formatting characters"
    return None


def has_visible_glyph(value: str) -> bool:
    """Whether something would be drawn: a letter, digit, punctuation or symbol. Marks count
    only on such a base, which this implies."""
    return any(_category(c)[0] in "LNPS" and c not in BLANK_GLYPHS for c in value)


def username_fold(display_name: str) -> str:
    """What a display name reads as, compared with usernames (which are ASCII, compared ignoring
    case): compatibility forms folded (fullwidth, ligatures), case folded, Cyrillic and Greek
    look-alikes mapped to Latin, and a leading '@' dropped."""
    folded = unicodedata.normalize("NFKC", display_name).casefold().translate(_LOOKALIKES)
    return unicodedata.normalize("NFKC", folded).strip().removeprefix("@").strip()


def usernames_read_in(display_name: str) -> set[str]:
    """The usernames a reader may take a display name for: the whole name, folded, and every
    '@name' in it (shown beside the real @username, "Bob @bob" would read as Bob's)."""
    folded = username_fold(display_name)
    return {folded, *_AT_NAME.findall(folded)}


def _allowed_in_context(value: str, i: int) -> bool:
    """Format characters and non-spacing marks that a script or an emoji needs, where it needs
    them. Other marks are fine (they draw on their base); these draw nothing on their own."""
    char = value[i]
    before = value[i - 1] if i else ""
    after = value[i + 1] if i + 1 < len(value) else ""
    if _category(char) == "Mn" and not _is_selector(char):
        return bool(before) and before != " "
    if char == ZWJ:
        # Emoji sequences (👩‍💻, 🏳️‍🌈) and Indic half forms after a virama (IDNA's CONTEXTJ).
        return (_is_emoji_end(value, i) and _is_pictograph(after)) or _after_virama(before)
    if char == ZWNJ:
        # Persian and other joining scripts break a join between two letters; Indic after a virama.
        return _after_virama(before) or (_joining_letter(value, i, -1) and _joining_letter(value, i, 1))
    if char in (VS15, VS16):
        return bool(before) and (_is_pictograph(before) or before in KEYCAP_BASES or before in EMOJI_PUNCTUATION
                                 or _category(before).startswith("S"))
    if "\ufe00" <= char <= "\ufe0d" or "\U000e0100" <= char <= "\U000e01ef":
        return _is_ideograph(before)  # ideographic variants, e.g. of a Japanese family name
    if "\u180b" <= char <= "\u180f":
        return _name(before).startswith("MONGOLIAN LETTER")
    return False


def _is_selector(char: str) -> bool:
    return "\ufe00" <= char <= "\ufe0f" or "\U000e0100" <= char <= "\U000e01ef" or "\u180b" <= char <= "\u180f"


def _is_pictograph(char: str) -> bool:
    return bool(char) and _category(char) == "So" and char not in BLANK_GLYPHS


def _is_emoji_end(value: str, i: int) -> bool:
    """Whether an emoji, maybe with a skin tone and VS16, ends just before position i."""
    j = i - 1
    if j >= 0 and value[j] == VS16:
        j -= 1
    return j >= 0 and (ord(value[j]) in EMOJI_MODIFIERS or _is_pictograph(value[j]))


def _after_virama(before: str) -> bool:
    return bool(before) and unicodedata.combining(before) == VIRAMA


def _joining_letter(value: str, i: int, step: int) -> bool:
    """The nearest character on one side, skipping transparent marks, is a joining-script letter."""
    j = i + step
    while 0 <= j < len(value) and _category(value[j]) == "Mn":
        j += step
    return 0 <= j < len(value) and _name(value[j]).startswith(JOINING_SCRIPTS)


def _is_ideograph(char: str) -> bool:
    return _name(char).startswith(("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH"))


def _category(char: str) -> str:
    """Unicode's general category, except that code points in the emoji blocks which this Python's
    Unicode tables do not know yet (emoji newer than them) count as the symbols they will be."""
    category = unicodedata.category(char)
    return "So" if category == "Cn" and 0x1F000 <= ord(char) <= 0x1FAFF else category


def _name(char: str) -> str:
    return unicodedata.name(char, "") if char else ""
