"""The spam filter's pure part: features, the classifier and its saved state, the cheap signals a
classifier misses, and the verdict from the combined score.

Features are character n-grams (2-4) hashed into 2**18 columns, so that Chinese needs no tokenizer
and the model has a fixed size whatever it learns. The classifier is
scikit-learn's SGDClassifier with the logistic loss, trained online (`partial_fit`): on the held-out
set it beat MultinomialNB (docs/performance.md, "Spam filter"), and its probabilities are
calibrated enough to put thresholds on. Its state is saved without pickle (numpy arrays only), so a
database row can never run code.
"""

from __future__ import annotations

import enum
import io
import re
import unicodedata
import zlib
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from parley.core import wire
from parley.core.errors import Invalid, ParleyError
from parley.core.models import Membership, Role

if TYPE_CHECKING:
    import numpy as np
    from sklearn.linear_model import SGDClassifier

# numpy, scipy and scikit-learn are imported on first use (scikit-learn alone costs 1.5 s of CPU,
# and only training and learning need it): a server with PARLEY_SPAM=off pays for none of them.

N_FEATURES = 2**18
NGRAMS = (2, 4)
SCORED_CHARS = 1000  # the start of a long text says enough, and bounds the cost of one message
EPOCHS = 20  # passes over the starter set when a model is first trained
ALPHA = 1e-5
# Online updates (moderators' decisions) take fixed steps: the schedule the starter set ends on
# would let one decision swing the model (one message learned moved a similar one 0.002 -> 0.91).
ONLINE_ETA = 1.0
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


class Verdict(enum.StrEnum):
    DELIVER = "deliver"
    HOLD = "hold"
    REJECT = "reject"


def normalise(text: str) -> str:
    """Full-width letters to ASCII (NFKC), one case, no zero-width characters: the usual disguises."""
    text = text[:SCORED_CHARS]
    if text.isascii():  # most chat: NFKC changes nothing, and casefold is lower
        return text.lower()
    return unicodedata.normalize("NFKC", text).casefold().translate(_ZERO_WIDTH)


_PRIME, _MIX = 1_000_003, 0x9E3779B97F4A7C15  # rolling hash of code points; Fibonacci hashing to a column


def prepare(text: str) -> str:
    """What the features and signals read: `normalise`d, whitespace collapsed, a space at each end."""
    return " " + " ".join(normalise(text).split()) + " "


def features(texts: Sequence[str]) -> Any:
    """One sparse row per text: its n-gram counts over the square root of its n-gram count."""
    return features_of([prepare(t) for t in texts])


def hashed(docs: Sequence[str]) -> tuple[Any, Any, Any]:
    """(row, column) of every character 2-, 3- and 4-gram of `prepare`d texts, hashed into
    N_FEATURES columns, and each row's weight 1/sqrt(its n-gram count): a whole batch in a few
    numpy operations.

    scikit-learn's HashingVectorizer(analyzer="char_wb") computes the same kind of features, but
    builds and hashes each n-gram in Python: it cost 3.5 times as much per message, and building a
    sparse matrix per batch as much again (docs/performance.md), which the ingest path cannot afford."""
    import numpy as np

    codes = np.frombuffer("\0".join(docs).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    rows_at = np.repeat(np.arange(len(docs), dtype=np.intp), [len(d) + 1 for d in docs])[: len(codes)]
    sentinel = codes == 0  # between two texts: no n-gram spans it
    hashed_, broken, hashes, breaks, rows = codes, sentinel, [], [], []
    shift, prime, mix = np.uint64(64 - N_FEATURES.bit_length() + 1), np.uint64(_PRIME), np.uint64(_MIX)
    with np.errstate(over="ignore"):  # the hashes wrap around 2**64 on purpose
        for n in range(NGRAMS[0], NGRAMS[1] + 1):
            hashed_ = hashed_[:-1] * prime + codes[n - 1:]
            broken = broken[:-1] | sentinel[n - 1:]
            hashes.append(hashed_)
            breaks.append(broken)
            rows.append(rows_at[: len(hashed_)])
        # One mask, one mix and one shift for every n (each numpy call costs a few µs whatever its
        # size, and a batch's arrays are small); intp rows: bincount takes them without a copy.
        keep = ~np.concatenate(breaks)
        col = ((np.concatenate(hashes)[keep] * mix) >> shift).astype(np.intp)
    row = np.concatenate(rows)[keep]
    weight = 1.0 / np.sqrt(np.maximum(np.bincount(row, minlength=len(docs)), 1))
    return row, col, weight


def features_of(docs: Sequence[str]) -> Any:
    """The sparse matrix of `hashed` (for training and learning; scoring needs none)."""
    from scipy import sparse

    row, col, weight = hashed(docs)
    return sparse.csr_matrix((weight[row], (row, col)), shape=(len(docs), N_FEATURES))


def _classifier() -> SGDClassifier:
    from sklearn.linear_model import SGDClassifier

    return SGDClassifier(loss="log_loss", alpha=ALPHA, random_state=0)


class Model:
    """The classifier's state and its version. Scoring is the logistic model's own formula on
    these arrays (numpy only); scikit-learn is imported to train and to learn, never to score, so a
    node that only scores never loads it."""

    def __init__(self, coef: np.ndarray[Any, Any], intercept: float, t: float, version: int = 0) -> None:
        self.coef = coef  # (N_FEATURES,) weights
        self.intercept = intercept
        self.t = t  # the SGD step counter, so that learning continues where it stopped
        self.version = version

    @classmethod
    def train(cls, texts: Sequence[str], labels: Sequence[bool]) -> Model:
        import numpy as np

        clf = _classifier()
        x, y = features(texts), np.asarray(labels, dtype=bool)
        for _ in range(EPOCHS):
            clf.partial_fit(x, y, classes=[False, True])
        return cls(clf.coef_[0].copy(), float(clf.intercept_[0]), float(clf.t_))

    def probabilities(self, texts: Sequence[str], *, prepared: bool = False) -> np.ndarray[Any, Any]:
        """P(spam) of each text: what SGDClassifier.predict_proba answers for the same state."""
        import numpy as np

        row, col, weight = hashed(texts if prepared else [prepare(t) for t in texts])
        z = np.bincount(row, weights=self.coef[col], minlength=len(weight)) * weight + self.intercept
        return 1.0 / (1.0 + np.exp(-z))  # type: ignore[no-any-return]

    def learn(self, texts: Sequence[str], spam: bool) -> None:
        import numpy as np

        if not texts:
            return
        clf = _classifier()
        clf.set_params(learning_rate="constant", eta0=ONLINE_ETA)
        clf.coef_, clf.intercept_, clf.t_ = self.coef[None, :].copy(), np.array([self.intercept]), self.t
        clf.classes_, clf.n_features_in_ = np.array([False, True]), N_FEATURES
        clf.partial_fit(features(texts), np.full(len(texts), spam, dtype=bool))
        self.coef, self.intercept, self.t = clf.coef_[0].copy(), float(clf.intercept_[0]), float(clf.t_)

    def dump(self) -> bytes:
        """The learned state as compressed numpy arrays (the weights are sparse: only n-grams seen)."""
        import numpy as np

        nz = np.flatnonzero(self.coef).astype(np.int32)
        out = io.BytesIO()
        np.savez(out, index=nz, weight=self.coef[nz], intercept=np.array([self.intercept]), t=np.array([self.t]))
        return zlib.compress(out.getvalue(), 6)

    @classmethod
    def load(cls, blob: bytes, version: int) -> Model:
        import numpy as np

        arrays = np.load(io.BytesIO(zlib.decompress(blob)), allow_pickle=False)
        coef = np.zeros(N_FEATURES)
        coef[arrays["index"]] = arrays["weight"]
        return cls(coef, float(arrays["intercept"][0]), float(arrays["t"][0]), version)


@cache
def starter_state() -> bytes:
    """The model trained on the starter set, saved: what a database without a model starts from
    (trained once per process; the same bytes every time)."""
    return Model.train(*read_set("spam-starter.tsv")).dump()


def read_set(name: str) -> tuple[list[str], list[bool]]:
    """A labelled set shipped in core/data: `spam-starter.tsv` or `spam-heldout.tsv`."""
    texts, labels = [], []
    for line in resources.files("parley.core.data").joinpath(name).read_text("utf-8").splitlines():
        if line and not line.startswith("#"):
            label, text = line.split("\t", 1)
            texts.append(text)
            labels.append(label == "spam")
    return texts, labels


# -- signals a classifier misses ------------------------------------------------------------------

_LINK = re.compile(r"https?://|www\.|\b(?:t|wa)\.me/|\b[a-z0-9-]{2,}\.(?:com|net|org|top|xyz|cc|cn|io|app|"
                   r"bet|vip|live|club|shop|click|info|site|win|gift|work|date|pro|ru)\b")  # on prepared text
_MENTION = re.compile(r"(?<![\w.])@\w")
_RUN = re.compile(r"(\S)\1{7,}")  # one character 8 times or more: "!!!!!!!!", "💰💰💰💰💰💰💰💰" (not spaces)


@dataclass(frozen=True)
class Policy:
    hold: float = 0.5
    reject: float = 0.99
    new_account_ms: int = 86_400_000
    window_ms: int = 600_000  # the same text in several rooms counts within this window
    rooms_flood: int = 3  # ... in this many rooms or more


NEW_ACCOUNT_MAX_S = 365 * 86_400


def settings_policy(base: Policy, hold: float | None = None, reject: float | None = None,
                    new_account_s: int | None = None) -> Policy:
    """`base` with the settings an admin changed; Invalid unless 0 < hold <= reject <= 1.01 (a
    reject threshold above 1 refuses nothing) and 0 <= new_account_s <= a year."""
    hold = base.hold if hold is None else float(hold)
    reject = base.reject if reject is None else float(reject)
    new_ms = base.new_account_ms if new_account_s is None else int(new_account_s) * 1000
    if not 0.0 < hold <= reject <= 1.01:
        raise Invalid("the thresholds need 0 < hold <= reject <= 1.01 (above 1: refuse nothing)")
    if not 0 <= new_ms <= NEW_ACCOUNT_MAX_S * 1000:
        raise Invalid(f"new_account_s must be between 0 and {NEW_ACCOUNT_MAX_S}")
    return replace(base, hold=hold, reject=reject, new_account_ms=new_ms)


def settings_json(policy: Policy) -> dict[str, Any]:
    """What an admin may change of the policy, as the API shows it and server_settings keeps it."""
    return {"hold": policy.hold, "reject": policy.reject, "new_account_s": policy.new_account_ms // 1000}


def policy_from_settings(base: Policy, stored: dict[str, Any] | None) -> Policy:
    """The policy an admin stored (server_settings), else `base` (the PARLEY_SPAM_* settings); a
    stored value that no longer passes the checks is ignored."""
    if not isinstance(stored, dict):
        return base
    try:
        return settings_policy(base, stored.get("hold"), stored.get("reject"), stored.get("new_account_s"))
    except (ValueError, TypeError, ParleyError):
        return base


def heldout_figures(model: Model, policy: Policy) -> dict[str, Any]:
    """Precision and recall of the model's own verdict (its probability at the hold threshold; no
    signal, as they need rooms and accounts) on the held-out set shipped in core/data."""
    texts, labels = read_set("spam-heldout.tsv")
    flagged = [bool(p >= policy.hold) for p in model.probabilities(texts)]
    tp = sum(f and y for f, y in zip(flagged, labels, strict=True))
    fp = sum(f and not y for f, y in zip(flagged, labels, strict=True))
    fn = sum(y and not f for f, y in zip(flagged, labels, strict=True))
    return {"messages": len(texts), "spam": sum(labels),
            "precision": round(tp / (tp + fp), 4) if tp + fp else None,
            "recall": round(tp / (tp + fn), 4) if tp + fn else None}


@dataclass(slots=True)
class Candidate:
    """What scoring needs of one message."""

    text: str
    sender_id: int
    room_id: int
    account_age_ms: int
    prepared: str = ""  # `prepare(text)` when the caller has it already


@dataclass(slots=True)
class Score:
    value: float
    probability: float = 0.0
    fired: list[tuple[str, float]] = field(default_factory=list)

    @property
    def reasons(self) -> list[str]:
        """What scored it, for the moderators (built only for the messages held)."""
        return [f"classifier:{self.probability:.2f}", *(reason for reason, _ in self.fired)]

    def verdict(self, policy: Policy) -> Verdict:
        if self.value >= policy.reject:
            return Verdict.REJECT
        return Verdict.HOLD if self.value >= policy.hold else Verdict.DELIVER


def signals(c: Candidate, text: str, policy: Policy, rooms_with_text: int,
            may_run: bool = True) -> list[tuple[str, float]]:
    """(reason, strength in 0-1) of each signal that fires, from the message and its `prepare`d
    text; combined with the classifier's probability as a noisy-or, so that each one alone cannot
    hold an ordinary message. `may_run`: False when `run_suspects` has ruled out a repeated character."""
    out: list[tuple[str, float]] = []
    links = len(_LINK.findall(text)) if "." in text else 0
    if links >= 3:
        out.append(("link_flood", 0.5 if links < 5 else 0.8))
    if links and c.account_age_ms < policy.new_account_ms:
        out.append(("link_from_new_account", 0.35))
    if "@" in text and (mentions := len(_MENTION.findall(text))) >= 5:
        out.append(("mention_flood", 0.5 if mentions < 10 else 0.8))
    if may_run and (run := _RUN.search(text)) is not None:
        out.append(("repeated_characters", 0.3 if run.end() - run.start() < 20 else 0.6))
    if rooms_with_text >= policy.rooms_flood:
        out.append(("same_text_in_rooms", 0.7))
    elif rooms_with_text == 2:
        out.append(("same_text_in_rooms", 0.25))
    return out


def run_suspects(docs: Sequence[str]) -> set[int]:
    """The texts that may hold one character 8 times in a row (`_RUN` then decides): those with
    7 equal neighbours in a row, found for the whole batch in a few numpy operations. The regex
    alone cost about 20,000 instructions a message, and ordinary chat never has such a run."""
    import numpy as np

    codes = np.frombuffer("\0".join(docs).encode("utf-32-le"), dtype=np.uint32)
    same = codes[1:] == codes[:-1]
    for _ in range(6):  # same[i]: codes[i] == ... == codes[i + 7]
        same = same[:-1] & same[1:]
    hits = np.flatnonzero(same)
    if not len(hits):
        return set()
    ends = np.cumsum([len(d) + 1 for d in docs])  # where each text's separator is
    return {int(i) for i in np.searchsorted(ends, hits, side="right")}


def combine(probability: float, fired: list[tuple[str, float]]) -> Score:
    keep = 1.0 - probability
    for _, strength in fired:
        keep *= 1.0 - strength
    return Score(round(1.0 - keep, 4), probability, fired)


class Recent:
    """Which rooms each sender posted each text to lately (this node's view): the cross-room signal."""

    def __init__(self, window_ms: int, limit: int = 100_000) -> None:
        self.window_ms = window_ms
        self.limit = limit
        self._seen: dict[tuple[int, int], dict[int, int]] = defaultdict(dict)  # (sender, text hash) -> {room: ts}
        self._order: deque[tuple[int, tuple[int, int]]] = deque()

    def note(self, sender_id: int, prepared: str, room_id: int, now: int) -> int:
        """Record the post (its `prepare`d text); returns in how many rooms this sender posted this
        text in the window."""
        self._expire(now)
        key = (sender_id, zlib.crc32(prepared.encode()))
        rooms = self._seen[key]
        rooms[room_id] = now
        self._order.append((now, key))
        return sum(1 for ts in rooms.values() if now - ts <= self.window_ms)

    def _expire(self, now: int) -> None:
        while self._order and (now - self._order[0][0] > self.window_ms or len(self._order) > self.limit):
            ts, key = self._order.popleft()
            rooms = self._seen.get(key)
            if rooms is not None:
                for room, seen in list(rooms.items()):
                    if seen <= ts:
                        del rooms[room]
                if not rooms:
                    del self._seen[key]


def text_key(sender_id: int, prepared: str) -> str:
    """What the cross-room signal counts by: a sender and a `prepare`d text (hashed)."""
    return f"{sender_id}:{zlib.crc32(prepared.encode()):08x}"


class Seen:
    """The cross-room signal for one send batch, cluster-wide: the rooms each (sender, text) was
    posted to lately, as the bus told before the batch, plus the batch's own posts as they are
    scored (`noted`: recorded on the bus after the commit)."""

    def __init__(self, known: dict[str, set[int]] | None = None) -> None:
        self.known = known if known is not None else {}
        self.noted: list[tuple[str, int]] = []

    def note(self, sender_id: int, prepared: str, room_id: int, now: int) -> int:
        key = text_key(sender_id, prepared)
        rooms = self.known.setdefault(key, set())
        rooms.add(room_id)
        self.noted.append((key, room_id))
        return len(rooms)


def score(model: Model, candidates: Sequence[Candidate], policy: Policy, recent: Recent | Seen,
          now: int) -> list[Score]:
    """Every message of a batch, with one vectorizer call for all of them."""
    if not candidates:
        return []
    docs = [c.prepared or prepare(c.text) for c in candidates]
    probabilities = model.probabilities(docs, prepared=True)
    runs = run_suspects(docs)
    return [combine(float(p), signals(c, doc, policy, recent.note(c.sender_id, doc, c.room_id, now), i in runs))
            for i, (c, doc, p) in enumerate(zip(candidates, docs, probabilities, strict=True))]


@dataclass(frozen=True, slots=True)
class Held:
    """A message held for review (table held_messages)."""

    id: int
    room_id: int
    sender: dict[str, object]  # the sender's public profile
    client_msg_id: str | None
    data: dict[str, object]  # the message's fields as sent
    score: float
    reasons: list[str]
    created_at: int

    @property
    def sender_id(self) -> int:
        return int(self.sender["id"])  # type: ignore[call-overload]


def held_view(held: Held) -> wire.HeldMessage:
    data, sender = held.data, held.sender
    extra = {k: data[k] for k in ("attachments", "reply_to", "thread_root") if k in data}
    return wire.HeldMessage(id=held.id, room=held.room_id, text=str(data.get("text", "")),
                            sender=wire.UserPublic(held.sender_id, str(sender["username"]),
                                                   str(sender["display_name"]), sender.get("avatar_url")),  # type: ignore[arg-type]
                            client_msg_id=held.client_msg_id, score=held.score, reasons=held.reasons,
                            ts=held.created_at, **extra)  # type: ignore[arg-type]


def held_json(held: Held) -> dict[str, Any]:
    """The held message as REST shows it (the same fields as the `held_added` frame's)."""
    import msgspec

    return msgspec.to_builtins(held_view(held))  # type: ignore[no-any-return]


def exempt(is_server_admin: bool, membership: Membership | None) -> bool:
    """Moderators and up of the room, and server admins, are never held nor refused."""
    return is_server_admin or (membership is not None and membership.role >= Role.MODERATOR)
