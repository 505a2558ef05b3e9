"""Message search, the pure part: how a text becomes index tokens, how a query becomes terms, and
how a snippet is cut and highlighted. Both databases index the same tokens and are asked the same
terms, so SQLite (FTS5) and PostgreSQL (tsvector) give the same answers.

- Latin and other spaced scripts: words of letters and digits, accents removed (NFKD without
  combining marks) and case folded; a query word matches by prefix ("cafe" finds "Café", "cafés").
- Chinese, Japanese, Korean: a run of such characters is indexed as its overlapping bigrams
  ("咖啡店" -> "咖啡", "啡店"); a query run of two or more characters asks the index for messages
  holding all its bigrams, and then the message text for the run itself (`runs`: a substring test
  on the few candidates, in the same SQL), so it matches exactly where the run occurs. The index
  keeps no positions (cheaper to write), so it has no phrases. A run of one character is indexed
  as itself; a one-character query matches bigrams starting with it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from parley.core.errors import Invalid

QUERY_MAX = 200  # characters
TERMS_MAX = 16
TOKEN_MAX = 64  # longer words are cut: an index row never holds an unbounded token
SNIPPET_CHARS = 160

_CJK = ("\u3040-\u30ff\u3100-\u312f\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
        "\U00020000-\U0002ebef")
_WORD = re.compile(r"[^\W_]+")  # letters and digits; underscore separates words
_ASCII_WORD = re.compile(r"[a-z0-9]+")
# A CJK run, or a run of other letters and digits (`\W` inside the class: no lookahead per character).
_RUN = re.compile(rf"([{_CJK}]+)|[^\W_{_CJK}]+")
_PAIRS = re.compile(rf"([{_CJK}]+)|([^\W_{_CJK}]+)")  # (CJK run, other word) tuples: core.support's questions
# A text as its CJK runs and the stretches between them, (run, "") or ("", stretch): a match per
# stretch rather than a search from every position (half the instructions of a split).
_STRETCHES = re.compile(rf"([{_CJK}]+)|([^{_CJK}]+)")


def fold(text: str) -> str:
    """Case and accents away: what a Latin word is indexed and queried as."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _bigrams(run: str) -> list[str]:
    return [run] if len(run) == 1 else [run[i:i + 2] for i in range(len(run) - 1)]


def _runs(text: str) -> list[tuple[bool, str, int, int]]:
    """(is_cjk, text, start, end) of each word or CJK run of the ORIGINAL text, in order."""
    if text.isascii():
        return [(False, m.group(0), m.start(), m.end()) for m in _WORD.finditer(text)]
    return [(m.group(1) is not None, m.group(0), m.start(), m.end()) for m in _RUN.finditer(text)]


def _latin_tokens(word: str) -> list[str]:
    if word.isascii():
        return [word.lower()[:TOKEN_MAX]]
    # Folding can reveal separators ("½" -> "1⁄2" is not one word).
    return [t[:TOKEN_MAX] for t in _WORD.findall(fold(word))]


def tokens(text: str) -> list[str]:
    """The index tokens of a message text, in text order."""
    if text.isascii():  # the common case, without the per-word work
        words = _ASCII_WORD.findall(text.lower())
        return words if len(text) <= TOKEN_MAX else [t[:TOKEN_MAX] for t in words]
    out: list[str] = []
    # The stretches between CJK runs are mostly ASCII (a Chinese word in an English line), taken
    # whole as the ASCII case is, without a step per word.
    for run, part in _STRETCHES.findall(text):
        if run:
            out.extend([run] if len(run) == 1 else [run[j:j + 2] for j in range(len(run) - 1)])
        elif part.isascii():
            words = _ASCII_WORD.findall(part.lower())
            out.extend(words if len(part) <= TOKEN_MAX else [t[:TOKEN_MAX] for t in words])
        else:
            for word in _WORD.findall(part):
                if len(word) <= TOKEN_MAX and word.isascii():
                    out.append(word.lower())
                else:
                    out.extend(_latin_tokens(word))
    return out


@dataclass(frozen=True, slots=True)
class Term:
    """One query term: a Latin word matched by prefix, or the bigrams of a CJK run (all must be
    in the index, and the run itself in the text: `runs`)."""

    tokens: tuple[str, ...]
    prefix: bool
    source: str  # what to highlight: the folded word, or the CJK run as typed


def parse(q: str) -> list[Term]:
    """A query as terms that must all match; 422 `invalid` when empty, too long or without words."""
    q = q.strip()
    if not q:
        raise Invalid("the search query q is empty")
    if len(q) > QUERY_MAX:
        raise Invalid(f"the search query q is longer than {QUERY_MAX} characters")
    terms: list[Term] = []
    for cjk, run, _, _ in _runs(q):
        if cjk:
            bigrams = _bigrams(run)
            terms.append(Term(tuple(bigrams), len(run) == 1, run))
        else:
            terms.extend(Term((t,), True, t) for t in _latin_tokens(run))
    if not terms:
        raise Invalid("the search query q has no letters or digits to search for")
    unique = list(dict.fromkeys(terms))
    if len(unique) > TERMS_MAX:
        raise Invalid(f"the search query q has more than {TERMS_MAX} words")
    return unique


# Facets: tokens no text can produce ("§" is not a letter), appended after the words, so that a
# room or sender filter, or the few rooms a user may read, narrow the search inside the index.
def room_facet(room_id: int) -> str:
    return f"§r{room_id}"


def user_facet(user_id: int) -> str:
    return f"§u{user_id}"


def facet(token: str) -> Term:
    return Term((token,), False, "")


def runs(terms: list[Term]) -> list[str]:
    """The CJK runs of two or more characters among the terms: the index finds messages holding
    all of a run's bigrams, anywhere; the caller keeps those whose current text holds the run
    itself (SQL `instr`/`strpos` on the event's text), which is exact where the run occurs."""
    return [t.source for t in terms if len(t.tokens) > 1]


def fts5_query(terms: list[Term], any_of: list[str] | None = None) -> str:
    """SQLite FTS5 MATCH syntax (`detail=none`: tokens and prefixes, no phrases); `any_of`:
    facets of which one must match. Tokens hold only letters, digits and "§", so quoting is safe."""
    parts = []
    for t in terms:
        parts.extend(f'"{tok}" *' if t.prefix else f'"{tok}"' for tok in t.tokens)
    if any_of:
        parts.append("(" + " OR ".join(f'"{tok}"' for tok in any_of) + ")")
    return " AND ".join(parts)


# PostgreSQL: every lexeme of a message (words, pairs and facets) carries its event's era, the
# event id >> ERA_BITS ("15~deploy", "15~§r3"), so that a search asks the newest era first and
# stops once it has a page. GIN answers a prefix ("ka:*") by gathering every row of every lexeme
# that starts with it, and an OR of room facets by walking all their rows: era by era, that work is
# bounded by the size of an era instead of the whole log (docs/performance.md). The writer puts
# ERA_MARK where the era goes and the insert statement, which knows the id, replaces it.
ERA_BITS = 16
ERA_MARK = "#"  # no token holds it (letters, digits and "§" only)


def era(event_id: int) -> int:
    return event_id >> ERA_BITS


def tsquery(terms: list[Term], eras: list[int], any_of: list[str] | None = None) -> str:
    """PostgreSQL tsquery input syntax (lexemes taken as they are, no parser or dictionary): a
    message of one of `eras` matching every term (and one of the facets `any_of`)."""
    per_era = []
    for e in eras:
        parts = []
        for t in terms:
            parts.extend(f"'{e}~{tok}'" + (":*" if t.prefix else "") for tok in t.tokens)
        if any_of:
            parts.append("(" + " | ".join(f"'{e}~{tok}'" for tok in any_of) + ")")
        per_era.append(" & ".join(parts))
    return per_era[0] if len(per_era) == 1 else " | ".join(f"({q})" for q in per_era)


def tsvector(toks: list[str], event_id: int | None = None) -> str:
    """PostgreSQL tsvector input syntax without positions (no query needs them; rows written
    with positions before still match), each lexeme led by its era, or by ERA_MARK when the event
    id is not known yet."""
    if not toks:
        return ""
    mark = "'" + (ERA_MARK if event_id is None else f"{era(event_id)}~")
    return mark + ("' " + mark).join(toks) + "'"


def _spans(text: str, terms: list[Term]) -> list[tuple[int, int]]:
    """Where the query's terms occur in the original text, as character ranges."""
    found: list[tuple[int, int]] = []
    latin = [t.source for t in terms if t.prefix and t.source and not _is_cjk(t.source)]
    cjk = [t.source for t in terms if t.source and _is_cjk(t.source)]
    for is_cjk, run, start, end in _runs(text):
        if is_cjk:
            for needle in cjk:
                at = run.find(needle)
                while at >= 0:
                    found.append((start + at, start + at + len(needle)))
                    at = run.find(needle, at + 1)
        elif any(tok.startswith(w) for tok in _latin_tokens(run) for w in latin):
            found.append((start, end))
    return _merged(found)


def _is_cjk(s: str) -> bool:
    return bool(s) and re.match(rf"[{_CJK}]", s) is not None


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def snippet(text: str, terms: list[Term], width: int = SNIPPET_CHARS) -> list[tuple[str, bool]]:
    """A window of the text around its first match, as [text, highlighted] parts (never markup):
    the client puts each part in a text node, highlighted ones inside <mark>."""
    spans = _spans(text, terms)
    start = 0
    if spans and spans[0][0] > width // 3:
        start = spans[0][0] - width // 3
        while start > 0 and not text[start - 1].isspace() and spans[0][0] - start < width // 2:
            start -= 1
    end = min(len(text), start + width)
    parts: list[tuple[str, bool]] = []
    at = start
    for s, e in spans:
        s, e = max(s, start), min(e, end)
        if s >= e:
            continue
        if s > at:
            parts.append((text[at:s], False))
        parts.append((text[s:e], True))
        at = e
    if at < end:
        parts.append((text[at:end], False))
    if start > 0 and parts:
        parts[0] = ("…" + parts[0][0], parts[0][1]) if not parts[0][1] else parts[0]
        if parts[0][1]:
            parts.insert(0, ("…", False))
    if end < len(text):
        parts.append(("…", False))
    return parts


CURSOR_PREFIX = "c"


@dataclass(frozen=True, slots=True)
class Bound:
    """A `before`/`after` value: a seq (with a room), a time in ms, or a page cursor (an event id)."""

    seq: int | None = None
    ts: int | None = None
    cursor: int | None = None


def bound(raw: str, name: str) -> Bound:
    """`123` (a seq), `c456` (the `next_before` of a previous page; `before` only), `2026-12-01`
    (midnight UTC) or an ISO 8601 time (UTC unless it has an offset)."""
    if raw.isascii() and raw.isdigit() and len(raw) <= 18:
        return Bound(seq=int(raw))
    if raw.startswith(CURSOR_PREFIX) and raw[1:].isascii() and raw[1:].isdigit() and 1 < len(raw) <= 19:
        return Bound(cursor=int(raw[1:]))
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        raise Invalid(f"{name} must be a seq, a date (2026-12-01), an ISO 8601 time or a page cursor") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return Bound(ts=int(when.timestamp() * 1000))


def cursor(event_id: int) -> str:
    return f"{CURSOR_PREFIX}{event_id}"
