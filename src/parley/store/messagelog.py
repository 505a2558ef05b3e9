"""The hot path: appending a batch of events (messages, or any other type) to room logs in one
transaction, in hand-written SQL.

Everything else goes through SQLAlchemy Core. This one path does not, because it runs for every
message: through SQLAlchemy's async adapters each statement cost 250-450 µs of event-loop CPU here
(four thread hops per statement on aiosqlite), against one hop per batch on SQLite (the whole
transaction runs in the writer thread with the stdlib driver) and one round trip per statement
with raw asyncpg on PostgreSQL. The SQL is the same on both; only the placeholders differ. The
rows themselves are written by the one writer, `store.events.writes`, which the services use too.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from parley.core import mentions, permissions
from parley.core.actions import Target
from parley.core.errors import Unavailable
from parley.core.models import Event, EventType, Membership, Room, RoomKind
from parley.core.uploads import Upload
from parley.store.blocks import BLOCKED_IN_DIRECT_SQL
from parley.store.events import SELECT_SQL, Draft, Placed, Writer, event_from_row, writes
from parley.store.outage import as_unavailable
from parley.store.rooms import MEMBER_COLUMNS, ROOM_COLUMNS, membership_from_row, room_from_row
from parley.store.uploads import SELECT_SQL as UPLOADS_SQL
from parley.store.uploads import attach_sql, upload_from_row


class DuplicateClientMessage(Exception):
    """Another transaction stored one of the batch's client_msg_ids first."""


@dataclass(slots=True)
class Snapshot:
    """What the batch's decision needs, read inside its transaction (rooms locked)."""

    rooms: dict[int, Room]
    memberships: dict[tuple[int, int], Membership]
    existing: dict[tuple[int, int, str], Event]
    live_sessions: set[int]  # of the drafts' sessions, those that exist and have not expired
    # {room: {lower-case username: user id}} of the members (joined or invited) the texts may mention
    mentionable: dict[int, dict[str, int]]
    # the uploads the drafts name in `attachments` (read only when some draft has attachments)
    uploads: dict[int, Upload] = dataclasses.field(default_factory=dict)
    # Read only when some draft has a `reply_to` or `thread_root`: the events they name, and the
    # senders of each named thread so far, {(room, root seq): [user ids]}.
    targets: dict[tuple[int, int], Target] = dataclasses.field(default_factory=dict)
    threads: dict[tuple[int, int], list[int]] = dataclasses.field(default_factory=dict)
    # (room, sender) pairs of the batch's direct rooms where a joined member blocks the sender (read
    # only when the batch has a direct room)
    blocked: set[tuple[int, int]] = dataclasses.field(default_factory=set)
    # draft index -> the fields the store resolved for it (mentions, mentions_room,
    # thread_participants, attachments as upload objects), filled when the chosen drafts are stored
    resolved: dict[int, dict[str, Any]] = dataclasses.field(default_factory=dict)


Decide = Callable[[Snapshot], list[int]]  # -> indexes of the drafts to store, in order
Stored = dict[int, tuple[int, int]]  # draft index -> (event id, seq)

_ROOM = f"SELECT {', '.join(c.name for c in ROOM_COLUMNS)} FROM rooms"
_MEMBER = f"SELECT {', '.join(c.name for c in MEMBER_COLUMNS)} FROM members"
_MENTIONABLE = ("SELECT m.room_id, u.username_lower, u.id FROM members m JOIN users u ON u.id = m.user_id "
                "WHERE m.state IN ('joined', 'invited') AND ")


def _groups(drafts: list[Draft]) -> tuple[dict[int, set[int]], dict[tuple[int, int], set[str]]]:
    members: dict[int, set[int]] = defaultdict(set)
    cmids: dict[tuple[int, int], set[str]] = defaultdict(set)
    for d in drafts:
        members[d.room_id].add(d.sender_id)
        if d.client_msg_id is not None:
            cmids[(d.room_id, d.sender_id)].add(d.client_msg_id)
    return members, cmids


def _note(existing: dict[tuple[int, int, str], Event], event: Event) -> None:
    assert event.sender is not None and event.client_msg_id is not None  # matched on both
    existing[(event.room_id, event.sender["id"], event.client_msg_id)] = event


def _text(draft: Draft) -> str:
    return draft.data.get("text", "") if draft.type is EventType.MESSAGE else ""


def _mention_lookup(drafts: list[Draft]) -> tuple[list[int], list[str]]:
    """(rooms, lower-case names) to look up: every name any text of the batch may mention."""
    rooms: set[int] = set()
    names: set[str] = set()
    for d in drafts:
        found = mentions.candidates(_text(d))
        if found:
            rooms.add(d.room_id)
            names.update(found)
    return sorted(rooms), sorted(names)


def _mention_map(rows: Sequence[Sequence[Any]]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = defaultdict(dict)
    for room_id, name, user_id in rows:
        out[room_id][name] = user_id
    return dict(out)


def _mentioned(snapshot: Snapshot, draft: Draft) -> dict[str, Any]:
    """What a stored message mentions: the ids of members of its room at send time, as read in the
    batch; `@room`/`@here` from a moderator or up; a thread's earlier participants. Only the
    fields that are set."""
    text = _text(draft)
    if "@" not in text and "thread_root" not in draft.data:  # most messages
        return {}
    members = snapshot.mentionable.get(draft.room_id)  # absent unless some text of the room names someone
    found: dict[str, Any] = {}
    ids = mentions.resolve(text, members) if members else []
    if ids:
        found["mentions"] = ids
    if mentions.names_room(text) and permissions.may_mention_room(
            snapshot.memberships.get((draft.room_id, draft.sender_id or 0))):
        found["mentions_room"] = True
    root = draft.data.get("thread_root")
    if root is not None:
        people = [u for u in snapshot.threads.get((draft.room_id, root), []) if u != draft.sender_id]
        if people:
            found["thread_participants"] = people
    return found


def _resolved(snapshot: Snapshot, drafts: list[Draft], chosen: list[int]) -> list[Draft]:
    """The chosen drafts, each message carrying what it mentions and its attachments as upload
    objects (stored only when set, and noted in `snapshot.resolved` for the caller)."""
    out = []
    for i in chosen:
        draft = drafts[i]
        found = _mentioned(snapshot, draft)
        if "attachments" in draft.data and draft.type is EventType.MESSAGE:
            found["attachments"] = [snapshot.uploads[u].view() for u in draft.data["attachments"]]
        if found:
            snapshot.resolved[i] = found
        out.append(dataclasses.replace(draft, data={**draft.data, **found}) if found else draft)
    return out


def _attachment_ids(drafts: list[Draft]) -> list[int]:
    return sorted({u for d in drafts if d.type is EventType.MESSAGE for u in d.data.get("attachments", ())})


def _attach_rows(snapshot: Snapshot, chosen: list[int], placed: Placed) -> list[tuple[int, int]]:
    """(seq, upload id) for every attachment of the stored messages."""
    return [(seq, view["id"]) for i, (_, seq) in zip(chosen, placed, strict=True)
            for view in snapshot.resolved.get(i, {}).get("attachments", ())]


def _references(drafts: list[Draft]) -> dict[int, set[int]]:
    """{room: seqs} named by the drafts' `reply_to` and `thread_root`: read only for those drafts."""
    out: dict[int, set[int]] = defaultdict(set)
    for d in drafts:
        for key in ("reply_to", "thread_root"):
            seq = d.data.get(key)
            if seq is not None:
                out[d.room_id].add(seq)
    return out


def _roots(drafts: list[Draft]) -> dict[int, set[int]]:
    out: dict[int, set[int]] = defaultdict(set)
    for d in drafts:
        if d.data.get("thread_root") is not None:
            out[d.room_id].add(d.data["thread_root"])
    return out


def _target(row: Sequence[Any]) -> tuple[tuple[int, int], Target]:
    """A row of (room_id, seq, type, sender_id, data, thread_root)."""
    data = orjson.loads(row[4]) if row[4] else {}
    return (row[0], row[1]), Target(row[2], row[3], row[5], bool(data.get("deleted")))


def _thread_map(rows: Sequence[Sequence[Any]], targets: dict[tuple[int, int], Target],
                roots: dict[int, set[int]]) -> dict[tuple[int, int], list[int]]:
    """{(room, root): [root author, then repliers in order of first reply]}."""
    out: dict[tuple[int, int], list[int]] = {}
    for room, seqs in roots.items():
        for root in seqs:
            found = targets.get((room, root))
            out[(room, root)] = [found.sender_id] if found and found.sender_id is not None else []
    for room, root, sender in rows:
        people = out.setdefault((room, root), [])
        if sender is not None and sender not in people:
            people.append(sender)
    return out


_TARGETS = "SELECT room_id, seq, type, sender_id, data, thread_root FROM events WHERE "
_THREAD_PEOPLE = "SELECT room_id, thread_root, sender_id FROM events WHERE "


def _direct_senders(rooms: dict[int, Room], members: dict[int, set[int]]) -> tuple[list[int], list[int]]:
    """(direct rooms of the batch, their senders): only these need the block lookup."""
    direct = sorted(r for r, room in rooms.items() if room.kind is RoomKind.DIRECT)
    return direct, sorted({u for r in direct for u in members[r]})


def _session_ids(drafts: list[Draft]) -> list[int]:
    return sorted({d.session_id for d in drafts if d.session_id is not None})


def _stored(chosen: list[int], placed: Placed) -> Stored:
    return dict(zip(chosen, placed, strict=True))


def run_sqlite(conn: sqlite3.Connection, writer: Writer) -> Placed:
    """Run the one writer (`store.events.writes`) on a stdlib connection, in its transaction."""
    rows: Any = None
    try:
        while True:
            stmt = writer.send(rows)
            if stmt.many:
                conn.executemany(stmt.sql, stmt.args)
                rows = []
            else:
                rows = conn.execute(stmt.sql, stmt.args).fetchall()
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


async def run_asyncpg(conn: asyncpg.Connection, writer: Writer) -> Placed:
    """Run the one writer on a raw asyncpg connection, in its transaction."""
    rows: Any = None
    try:
        while True:
            stmt = writer.send(rows)
            if stmt.many:
                await conn.executemany(stmt.sql, stmt.args)
                rows = []
            else:
                rows = await conn.fetch(stmt.sql, *stmt.args)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


SYNC_LEVELS = {"OFF": 0, "NORMAL": 1, "FULL": 2, "EXTRA": 3}


def sqlite_pragmas(synchronous: int) -> list[str]:
    """The settings of every SQLite connection Parley opens (SQLAlchemy's and the writer thread's)."""
    return ["PRAGMA journal_mode=WAL", f"PRAGMA synchronous={synchronous}", "PRAGMA foreign_keys=ON",
            "PRAGMA busy_timeout=10000"]


class SqliteMessageLog:
    """Runs each batch as one call on the writer thread, with its own stdlib connection."""

    def __init__(self, path: str, synchronous: int) -> None:
        self._path = path
        self._synchronous = synchronous
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parley-sqlite-log")
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            for pragma in sqlite_pragmas(self._synchronous):
                conn.execute(pragma)
            self._conn = conn
        return self._conn

    async def append(self, drafts: list[Draft], decide: Decide, now: int) -> tuple[Snapshot, Stored]:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._thread, self._append, drafts, decide, now)
        except sqlite3.IntegrityError as exc:
            raise DuplicateClientMessage(str(exc)) from exc
        except sqlite3.OperationalError as exc:
            raise Unavailable(f"the database is unavailable: {exc}; retry shortly") from exc

    def _append(self, drafts: list[Draft], decide: Decide, now: int) -> tuple[Snapshot, Stored]:
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            snapshot = self._snapshot(conn, drafts, now)
            stored = self._store(conn, drafts, snapshot, decide(snapshot), now)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return snapshot, stored

    @staticmethod
    def _snapshot(conn: sqlite3.Connection, drafts: list[Draft], now: int) -> Snapshot:
        members, cmids = _groups(drafts)
        ids = sorted(members)
        rooms = {r[0]: room_from_row(r) for r in conn.execute(
            f"{_ROOM} WHERE id IN ({','.join('?' * len(ids))})", ids)}
        memberships = {}
        for room_id, users in members.items():
            for r in conn.execute(f"{_MEMBER} WHERE room_id = ? AND user_id IN ({','.join('?' * len(users))})",
                                  [room_id, *users]):
                memberships[(r[0], r[1])] = membership_from_row(r)
        existing = {}
        for (room_id, sender), keys in cmids.items():
            sql = (f"{SELECT_SQL} WHERE events.room_id = ? AND events.sender_id = ? AND events.client_msg_id IN "
                   f"({','.join('?' * len(keys))})")
            for r in conn.execute(sql, [room_id, sender, *keys]):
                _note(existing, event_from_row(r))
        # Under the write lock (BEGIN IMMEDIATE): a revocation committed first has deleted the
        # session, and one not yet committed waits for this batch.
        wanted = _session_ids(drafts)
        live = {r[0] for r in conn.execute(
            f"SELECT id FROM sessions WHERE id IN ({','.join('?' * len(wanted))}) AND expires_at > ?",
            [*wanted, now])} if wanted else set()
        mention_rooms, names = _mention_lookup(drafts)
        mentionable = _mention_map(conn.execute(
            f"{_MENTIONABLE} m.room_id IN ({','.join('?' * len(mention_rooms))}) "
            f"AND u.username_lower IN ({','.join('?' * len(names))})", [*mention_rooms, *names]).fetchall()
        ) if names else {}
        wanted_uploads = _attachment_ids(drafts)  # only messages with attachments pay for this
        found = {r[0]: upload_from_row(r) for r in conn.execute(
            f"{UPLOADS_SQL} WHERE id IN ({','.join('?' * len(wanted_uploads))})", wanted_uploads)
        } if wanted_uploads else {}
        snapshot = Snapshot(rooms, memberships, existing, live, mentionable, found)
        direct, senders = _direct_senders(rooms, members)
        if direct:  # a direct chat refuses the sends of someone a member blocks
            snapshot.blocked = {(r[0], r[1]) for r in conn.execute(
                f"{BLOCKED_IN_DIRECT_SQL} m.room_id IN ({','.join('?' * len(direct))}) "
                f"AND b.blocked_id IN ({','.join('?' * len(senders))})", [*direct, *senders])}
        for room_id, seqs in _references(drafts).items():  # replies and threads only
            snapshot.targets.update(_target(r) for r in conn.execute(
                f"{_TARGETS} room_id = ? AND seq IN ({','.join('?' * len(seqs))})", [room_id, *sorted(seqs)]))
        roots = _roots(drafts)
        rows = [r for room_id, seqs in roots.items() for r in conn.execute(
            f"{_THREAD_PEOPLE} room_id = ? AND thread_root IS NOT NULL "
            f"AND thread_root IN ({','.join('?' * len(seqs))}) ORDER BY seq",
            [room_id, *sorted(seqs)])]
        snapshot.threads = _thread_map(rows, snapshot.targets, roots) if roots else {}
        return snapshot

    @staticmethod
    def _store(conn: sqlite3.Connection, drafts: list[Draft], snapshot: Snapshot, chosen: list[int],
               now: int) -> Stored:
        placed = run_sqlite(conn, writes("sqlite", _resolved(snapshot, drafts, chosen), now))
        if snapshot.uploads:
            conn.executemany(attach_sql("sqlite"), _attach_rows(snapshot, chosen, placed))
        return _stored(chosen, placed)

    async def close(self) -> None:
        def _close() -> None:
            if self._conn is not None:
                self._conn.close()

        await asyncio.get_running_loop().run_in_executor(self._thread, _close)
        self._thread.shutdown(wait=True)


class PostgresMessageLog:
    """Raw asyncpg on a connection borrowed from SQLAlchemy's pool."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine

    async def append(self, drafts: list[Draft], decide: Decide, now: int) -> tuple[Snapshot, Stored]:
        try:
            with as_unavailable():  # the server going away, at connect (via SQLAlchemy's pool) or later
                async with self._engine.connect() as sa_conn:
                    raw = await sa_conn.get_raw_connection()
                    conn: asyncpg.Connection = raw.driver_connection
                    async with conn.transaction():
                        snapshot = await self._snapshot(conn, drafts, now)
                        stored = await self._store(conn, drafts, snapshot, decide(snapshot), now)
                    return snapshot, stored
        except asyncpg.UniqueViolationError as exc:
            raise DuplicateClientMessage(str(exc)) from exc

    @staticmethod
    async def _snapshot(conn: asyncpg.Connection, drafts: list[Draft], now: int) -> Snapshot:
        """Set-based: five statements at most, whatever the number of rooms in the batch."""
        members, cmids = _groups(drafts)
        # Locked in id order: this batch waits for any archive or leave in flight, and two
        # nodes' batches cannot deadlock.
        rooms = {r[0]: room_from_row(r) for r in await conn.fetch(
            f"{_ROOM} WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE", sorted(members))}
        pairs = [(room, user) for room, users in members.items() for user in users]
        memberships = {(r[0], r[1]): membership_from_row(r) for r in await conn.fetch(
            f"{_MEMBER} WHERE (room_id, user_id) IN (SELECT * FROM unnest($1::bigint[], $2::bigint[]))",
            [p[0] for p in pairs], [p[1] for p in pairs])}
        keys = [(room, sender, cmid) for (room, sender), found in cmids.items() for cmid in found]
        existing = {}
        if keys:
            for r in await conn.fetch(
                    f"{SELECT_SQL} WHERE (events.room_id, events.sender_id, events.client_msg_id) IN "
                    "(SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[]))",
                    [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]):
                _note(existing, event_from_row(r))
        # FOR SHARE: a revocation's DELETE either committed first (the row is gone) or waits
        # until this batch commits; no message lands after its session's revocation committed.
        wanted = _session_ids(drafts)
        live = {r[0] for r in await conn.fetch(
            "SELECT id FROM sessions WHERE id = ANY($1::bigint[]) AND expires_at > $2 FOR SHARE",
            wanted, now)} if wanted else set()
        mention_rooms, names = _mention_lookup(drafts)
        mentionable = _mention_map(await conn.fetch(
            f"{_MENTIONABLE} m.room_id = ANY($1::bigint[]) AND u.username_lower = ANY($2::text[])",
            mention_rooms, names)) if names else {}
        wanted_uploads = _attachment_ids(drafts)  # locked: two sends cannot both attach one upload
        found = {r[0]: upload_from_row(r) for r in await conn.fetch(
            f"{UPLOADS_SQL} WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE", wanted_uploads)
        } if wanted_uploads else {}
        snapshot = Snapshot(rooms, memberships, existing, live, mentionable, found)
        direct, senders = _direct_senders(rooms, members)
        if direct:  # a direct chat refuses the sends of someone a member blocks
            snapshot.blocked = {(r[0], r[1]) for r in await conn.fetch(
                f"{BLOCKED_IN_DIRECT_SQL} m.room_id = ANY($1::bigint[]) AND b.blocked_id = ANY($2::bigint[])",
                direct, senders)}
        refs = [(room, seq) for room, seqs in _references(drafts).items() for seq in seqs]
        if refs:  # replies and threads only
            snapshot.targets.update(_target(r) for r in await conn.fetch(
                f"{_TARGETS} (room_id, seq) IN (SELECT * FROM unnest($1::bigint[], $2::bigint[]))",
                [r[0] for r in refs], [r[1] for r in refs]))
        roots = _roots(drafts)
        pairs_ = [(room, seq) for room, seqs in roots.items() for seq in seqs]
        if pairs_:
            rows = await conn.fetch(
                f"{_THREAD_PEOPLE} thread_root IS NOT NULL AND (room_id, thread_root) IN "
                "(SELECT * FROM unnest($1::bigint[], $2::bigint[])) ORDER BY seq",
                [p[0] for p in pairs_], [p[1] for p in pairs_])
            snapshot.threads = _thread_map(rows, snapshot.targets, roots)
        return snapshot

    @staticmethod
    async def _store(conn: asyncpg.Connection, drafts: list[Draft], snapshot: Snapshot, chosen: list[int],
                     now: int) -> Stored:
        placed = await run_asyncpg(conn, writes("postgresql", _resolved(snapshot, drafts, chosen), now))
        if snapshot.uploads:
            await conn.executemany(attach_sql("postgresql"), _attach_rows(snapshot, chosen, placed))
        return _stored(chosen, placed)

    async def close(self) -> None:
        return None
