"""Customer service (issue 12): the knowledge base's rules and its retrieval, pure.

Retrieval is Okapi BM25 over the tokens the message search already uses (`core.search.tokens`):
Latin words folded (case, accents) and matched whole (no prefixes: "port" must not answer
"portal"), CJK runs as overlapping bigrams. A knowledge base holds tens to a couple of thousand
short entries, so the index is built in memory per question from the room's entries, with each
entry's term counts cached (`_doc`): 10-35 ms per question over 1,000 entries measured here with
the machine's load average at 24 on 2 cores (`tests/unit/test_support.py` prints it). That is
40 lines of arithmetic; `rank-bm25` would add a dependency (and numpy) for the same formula and
none of the folding or the coverage rule below.

BM25's score has no fixed scale, so whether an entry *answers* is decided by its coverage: the
share of the question's information (the idf weight of its words and CJK characters) that the entry
contains. A question whose rare words the entry lacks is not answered by it, however common its
other words.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from parley.core import mentions, validation
from parley.core.errors import Invalid
from parley.core.search import _PAIRS, tokens

K1, B = 1.2, 0.75
TITLE_WEIGHT = 2  # a title's words count twice: it is the question the entry answers
THRESHOLD = 0.5  # the coverage from which the best entry is given as the answer
TITLE_MAX, ANSWER_MAX, TAGS_MAX, ENTRIES_MAX = 200, 4000, 200, 2000

# Words that carry no topic: left out of questions (not of entries), so "how do I" covers nothing.
STOPWORDS = frozenset((
    "a", "an", "and", "are", "can", "could", "do", "does", "for", "from", "have", "how", "i", "if", "in",
    "is", "it", "me", "my", "of", "on", "or", "please", "the", "there", "this", "to", "what", "when",
    "where", "which", "who", "why", "will", "with", "would", "you", "your", "hi", "hello",
))

CONVERSATION_STATES = ("bot", "waiting", "taken", "resolved")
QUEUE_STATES = ("waiting", "taken")  # open conversations an agent looks at


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    title: str
    answer: str
    tags: str


@dataclass(frozen=True, slots=True)
class Hit:
    entry: Entry
    score: float  # BM25
    coverage: float  # 0..1: share of the question's idf the entry contains


def entry_fields(title: object, answer: object, tags: object) -> tuple[str, str, str]:
    """A knowledge-base entry's fields, checked like message text (NFC, no control characters)."""
    t = validation._clean_text(title, "title", TITLE_MAX, allow_empty=False, multiline=False).strip()
    a = validation._clean_text(answer, "answer", ANSWER_MAX, allow_empty=False, multiline=True).strip()
    if not t or not a:
        raise Invalid("title and answer must hold more than spaces")
    tag_text = "" if tags is None else tags
    if not isinstance(tag_text, str) or len(tag_text) > TAGS_MAX:
        raise Invalid(f"tags must be at most {TAGS_MAX} characters")
    return t, a, " ".join(tag_text.replace(",", " ").split())


IMPORT_MAX = 200_000  # characters of one import (the request body is capped at 256 KiB anyway)
_HEADING = re.compile(r"^#{1,3}\s+(.+?)\s*#*\s*$")
_TAGS_LINE = re.compile(r"^(?:tags|标签)\s*[:：]\s*(.*)$", re.IGNORECASE)


def parse_import(fmt: str, text: str) -> list[tuple[str, str, str]]:
    """Entries (title, answer, tags) from CSV (columns title/question, answer, tags; a header row
    is recognised and skipped) or Markdown (each `#`, `##` or `###` heading is a question, the text
    under it its answer, a heading with no text under it a section title; a line `Tags: a, b` sets
    its tags). All or nothing: a bad entry is refused
    with its number."""
    if len(text) > IMPORT_MAX:
        raise Invalid(f"text must be at most {IMPORT_MAX} characters")
    raw: list[tuple[object, object, object]] = []
    if fmt == "csv":
        try:  # newline="": the csv module reads line ends inside quoted fields itself
            rows = [r for r in csv.reader(io.StringIO(text, newline="")) if any(c.strip() for c in r)]
        except csv.Error as exc:
            raise Invalid(f"text is not valid CSV: {exc}") from None
        if rows and [c.strip().lower() for c in rows[0][:2]] in (["title", "answer"], ["question", "answer"]):
            rows = rows[1:]
        for row in rows:
            raw.append((row[0] if row else "", row[1] if len(row) > 1 else "", row[2] if len(row) > 2 else ""))
    elif fmt == "markdown":
        title: str | None = None
        body: list[str] = []
        tags = ""
        for line in [*text.splitlines(), "# "]:
            heading = _HEADING.match(line) if line.startswith("#") else None
            if heading is not None or line == "# ":
                if title is not None and "".join(body).strip():  # a heading with no text is a section's
                    raw.append((title, "\n".join(body).strip(), tags))
                title, body, tags = (heading.group(1) if heading else None), [], ""
            elif title is not None and (found := _TAGS_LINE.match(line.strip())):
                tags = found.group(1)
            elif title is not None:
                body.append(line)
    else:
        raise Invalid("format must be csv or markdown")
    if not raw:
        raise Invalid("text holds no entry")
    out = []
    for n, (title, answer, tags) in enumerate(raw, start=1):
        try:
            out.append(entry_fields(title, answer, tags))
        except Invalid as exc:
            raise Invalid(f"entry {n}: {exc.message}") from None
    return out


@lru_cache(maxsize=16_384)
def _doc(entry: Entry) -> tuple[Counter[str], int]:
    """An entry's term counts and length, kept per entry value (an edit makes another value): the
    tokenizing is most of the work, and a knowledge base changes far less often than it is asked."""
    terms = tokens(entry.title) * TITLE_WEIGHT + tokens(entry.tags) + tokens(entry.answer)
    return Counter(terms), len(terms)


def _units(question: str) -> list[tuple[str, ...]]:
    """What a question asks, as units to cover: each Latin word (its token), and each CJK character
    (the bigrams it belongs to: covered when one of them matches). Counting characters rather than
    bigrams keeps the pairs that straddle two words ("退款怎么申请": 款怎, 么申) from sinking a match."""
    units: list[tuple[str, ...]] = []
    for cjk, other in _PAIRS.findall(question):
        if not cjk:
            units.extend((t,) for t in tokens(other) if t not in STOPWORDS)
        elif len(cjk) == 1:
            units.append((cjk,))
        else:
            pairs = [cjk[i:i + 2] for i in range(len(cjk) - 1)]
            units.extend(tuple(pairs[max(0, i - 1):i + 1]) for i in range(len(cjk)))
    return units


def rank(question: str, entries: list[Entry], limit: int = 3) -> list[Hit]:
    """The entries that share a term with the question, best first."""
    units = _units(question)
    terms = list(dict.fromkeys(t for unit in units for t in unit))  # each once: repeating asks nothing more
    if not terms or not entries:
        return []
    docs, lengths = zip(*(_doc(e) for e in entries), strict=True)
    n, avg = len(docs), (sum(lengths) / len(docs)) or 1.0
    df = {t: sum(1 for d in docs if t in d) for t in terms}
    idf = {t: math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t in terms}
    # A unit weighs as its rarest term; a term no entry has weighs as one that a single entry has:
    # in a small knowledge base the unseen words ("forgot", "urgently") would otherwise outweigh
    # every word it knows, and a question all of whose words are unseen covers nothing anyway.
    rare = math.log(1 + (n - 0.5) / 1.5)
    weights = [max(min(idf[t], rare) for t in unit) for unit in units]
    total = sum(weights)
    hits = []
    for entry, doc, length in zip(entries, docs, lengths, strict=True):
        score = 0.0
        for t in terms:
            tf = doc.get(t, 0)
            if tf:
                score += idf[t] * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / avg))
        if score > 0:
            covered = sum(w for unit, w in zip(units, weights, strict=True) if any(t in doc for t in unit))
            hits.append(Hit(entry, score, covered / total if total else 0.0))
    hits.sort(key=lambda h: (-h.score, h.entry.id))
    return hits[:limit]


def best_answer(question: str, entries: list[Entry], threshold: float = THRESHOLD) -> Hit | None:
    """The entry to answer with, or None: a person should answer."""
    hits = rank(question, entries, 1)
    return hits[0] if hits and hits[0].coverage >= threshold else None


def without_mentions(text: str) -> str:
    """A question put to the assistant in a room, less its @mentions (its own name is no keyword)."""
    return mentions.TOKEN.sub(" ", text).strip()


def snippet(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def prompt(conversation: list[tuple[str, str]], hits: list[Hit], room_name: str) -> list[dict[str, str]]:
    """The chat-completions messages for the language model: what it may rely on, then the
    conversation (role, text) oldest first."""
    kb = "\n\n".join(f"[{h.entry.id}] {h.entry.title}\n{h.entry.answer}" for h in hits) or "(no entry matched)"
    system = (f"You are the support assistant of {room_name!r}. Answer briefly and politely, in the "
              "visitor's language, using only the knowledge-base entries below; cite the entry you used "
              "as [id]. If they do not answer the question, say that a person will follow up.\n\n"
              f"Knowledge base:\n{kb}")
    return [{"role": "system", "content": system}, *({"role": r, "content": t} for r, t in conversation)]
