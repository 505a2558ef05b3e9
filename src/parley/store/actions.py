"""Message actions (issue 10): a message's row rewritten in place (edit, delete), its earlier
versions, reactions, pins, and the per-reader aggregates of history pages.

The events these actions append go through the one writer (`store.events.append`) in the same
transaction as the changes here.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.actions import snippet
from parley.core.models import Event
from parley.store.events import COLUMNS, FROM, event_from_row
from parley.store.tables import events, members, message_versions, pins, reactions, users

VERSIONS_MAX = 100


async def message(conn: AsyncConnection, room_id: int, seq: int) -> Event | None:
    row = (await conn.execute(sa.select(*COLUMNS).select_from(FROM)
                              .where(events.c.room_id == room_id, events.c.seq == seq))).one_or_none()
    return None if row is None else event_from_row(row)


async def rewrite(conn: AsyncConnection, room_id: int, seq: int, data: dict[str, Any]) -> None:
    """Store a message's new data in its own row (the `text` column and the JSON rest), as the one
    writer splits it: history and replay read the message as it is now."""
    rest = {k: v for k, v in data.items() if k != "text"}
    await conn.execute(events.update().where(events.c.room_id == room_id, events.c.seq == seq).values(
        text=data.get("text", ""), data=orjson.dumps(rest).decode() if rest else None))


async def keep_version(conn: AsyncConnection, room_id: int, seq: int, text: str, written_at: int,
                       replaced_at: int) -> None:
    await conn.execute(message_versions.insert().values(room_id=room_id, seq=seq, text=text, written_at=written_at,
                                                        replaced_at=replaced_at))


async def versions(conn: AsyncConnection, room_id: int, seq: int) -> list[dict[str, Any]]:
    """Earlier texts of a message, oldest first (the current one is the message itself)."""
    rows = await conn.execute(
        sa.select(message_versions.c.text, message_versions.c.written_at, message_versions.c.replaced_at)
        .where(message_versions.c.room_id == room_id, message_versions.c.seq == seq)
        .order_by(message_versions.c.id).limit(VERSIONS_MAX))
    return [{"text": r.text, "written_at": r.written_at, "replaced_at": r.replaced_at} for r in rows]


async def erase(conn: AsyncConnection, room_id: int, seq: int) -> None:
    """Everything kept about a deleted message besides its tombstone: versions, reactions, pin."""
    for table in (message_versions, reactions, pins):
        await conn.execute(table.delete().where(table.c.room_id == room_id, table.c.seq == seq))


# -- reactions -----------------------------------------------------------------------------------------


async def reaction_state(conn: AsyncConnection, room_id: int, seq: int, emoji: str, user_id: int) -> tuple[bool, int, bool]:
    """(the user reacted with this emoji already, distinct emoji on the message, this emoji is one)."""
    on_message = reactions.c.room_id == room_id, reactions.c.seq == seq
    mine = await conn.scalar(sa.select(sa.func.count()).select_from(reactions).where(
        *on_message, reactions.c.emoji == emoji, reactions.c.user_id == user_id))
    distinct = await conn.scalar(sa.select(sa.func.count(sa.distinct(reactions.c.emoji))).where(*on_message))
    present = await conn.scalar(sa.select(sa.func.count()).select_from(reactions).where(
        *on_message, reactions.c.emoji == emoji))
    return bool(mine), int(distinct or 0), bool(present)


async def add_reaction(conn: AsyncConnection, room_id: int, seq: int, emoji: str, user_id: int, now: int) -> None:
    await conn.execute(reactions.insert().values(room_id=room_id, seq=seq, emoji=emoji, user_id=user_id,
                                                 created_at=now))


async def remove_reaction(conn: AsyncConnection, room_id: int, seq: int, emoji: str, user_id: int) -> bool:
    result = await conn.execute(reactions.delete().where(
        reactions.c.room_id == room_id, reactions.c.seq == seq, reactions.c.emoji == emoji,
        reactions.c.user_id == user_id))
    return result.rowcount > 0


# -- pins ----------------------------------------------------------------------------------------------


async def pin(conn: AsyncConnection, room_id: int, seq: int, user_id: int, now: int) -> bool:
    """Pin; False if it was pinned already."""
    exists = await conn.scalar(sa.select(sa.func.count()).select_from(pins).where(
        pins.c.room_id == room_id, pins.c.seq == seq))
    if exists:
        return False
    await conn.execute(pins.insert().values(room_id=room_id, seq=seq, pinned_by=user_id, pinned_at=now))
    return True


async def unpin(conn: AsyncConnection, room_id: int, seq: int) -> bool:
    result = await conn.execute(pins.delete().where(pins.c.room_id == room_id, pins.c.seq == seq))
    return result.rowcount > 0


async def pinned(conn: AsyncConnection, room_id: int, limit: int) -> list[tuple[Event, int | None, int]]:
    """The room's pinned messages, latest pin first: (message, pinned_by, pinned_at)."""
    rows = await conn.execute(
        sa.select(*COLUMNS, pins.c.pinned_by, pins.c.pinned_at)
        .select_from(FROM.join(pins, sa.and_(pins.c.room_id == events.c.room_id, pins.c.seq == events.c.seq)))
        .where(pins.c.room_id == room_id).order_by(pins.c.pinned_at.desc(), pins.c.seq.desc()).limit(limit))
    return [(event_from_row(r), r.pinned_by, r.pinned_at) for r in rows]


# -- threads -------------------------------------------------------------------------------------------


async def thread(conn: AsyncConnection, room_id: int, root: int, after: int, limit: int) -> list[Event]:
    """The replies of a thread after `after`, oldest first (an index range: ix_events_thread)."""
    rows = await conn.execute(
        sa.select(*COLUMNS).select_from(FROM)
        .where(events.c.room_id == room_id, events.c.thread_root.is_not(None), events.c.thread_root == root,
               events.c.seq > after)
        .order_by(events.c.seq).limit(limit))
    return [event_from_row(r) for r in rows]


# -- what history pages add to each message, for one reader --------------------------------------------


async def decorate(conn: AsyncConnection, room_id: int, user_id: int, views: list[dict[str, Any]]) -> None:
    """Add `reactions` (when there are some), `pinned` (when pinned), `thread` (roots with replies)
    and `reply` (replies) to the message views of one page, in place: at most four queries per
    page, none per message. A message with none of these reads exactly as its event."""
    shown = [v for v in views if v.get("type") == "message"]
    if not shown:
        return
    seqs = sorted(v["seq"] for v in shown)
    counts = await _reaction_counts(conn, room_id, user_id, seqs)
    pinned_seqs = set((await conn.execute(sa.select(pins.c.seq).where(
        pins.c.room_id == room_id, pins.c.seq.in_(seqs)))).scalars())
    roots = [v["seq"] for v in shown if "thread_root" not in v]
    threads = await _thread_summaries(conn, room_id, roots) if roots else {}
    replied = sorted({v["reply_to"] for v in shown if "reply_to" in v})
    previews = await _previews(conn, room_id, replied) if replied else {}
    for view in shown:  # only what is there: a plain message reads exactly as its event
        seq = view["seq"]
        if seq in counts:
            view["reactions"] = counts[seq]
        if seq in pinned_seqs:
            view["pinned"] = True
        if seq in threads:
            view["thread"] = threads[seq]
        if "reply_to" in view and view["reply_to"] in previews:
            view["reply"] = previews[view["reply_to"]]


async def _reaction_counts(conn: AsyncConnection, room_id: int, user_id: int,
                           seqs: list[int]) -> dict[int, list[dict[str, Any]]]:
    mine = sa.func.max(sa.case((reactions.c.user_id == user_id, 1), else_=0))
    first = sa.func.min(reactions.c.created_at)
    rows = await conn.execute(
        sa.select(reactions.c.seq, reactions.c.emoji, sa.func.count().label("n"), mine.label("me"), first)
        .where(reactions.c.room_id == room_id, reactions.c.seq.in_(seqs))
        .group_by(reactions.c.seq, reactions.c.emoji).order_by(reactions.c.seq, first, reactions.c.emoji))
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        out[r.seq].append({"emoji": r.emoji, "count": r.n, "me": bool(r.me)})
    return out


async def _thread_summaries(conn: AsyncConnection, room_id: int, roots: list[int]) -> dict[int, dict[str, int]]:
    rows = await conn.execute(
        sa.select(events.c.thread_root, sa.func.count().label("n"), sa.func.max(events.c.seq).label("last_seq"),
                  sa.func.max(events.c.ts).label("last_ts"))
        .where(events.c.room_id == room_id, events.c.thread_root.is_not(None), events.c.thread_root.in_(roots))
        .group_by(events.c.thread_root))  # IS NOT NULL: the partial index ix_events_thread applies
    return {r.thread_root: {"count": r.n, "last_seq": r.last_seq, "last_ts": r.last_ts} for r in rows}


async def _previews(conn: AsyncConnection, room_id: int, seqs: list[int]) -> dict[int, dict[str, Any]]:
    rows = await conn.execute(sa.select(*COLUMNS).select_from(FROM).where(
        events.c.room_id == room_id, events.c.seq.in_(seqs), events.c.type == "message"))
    out = {}
    for row in rows:
        event = event_from_row(row)
        deleted = bool(event.data.get("deleted"))
        out[event.seq] = {"seq": event.seq, "author": event.sender, "deleted": deleted,
                          "text": "" if deleted else snippet(event.data.get("text", ""))}
    return out


async def mentionable(conn: AsyncConnection, room_id: int, names: list[str]) -> dict[str, int]:
    """{lower-case username: id} of the room's members (joined or invited) among `names`."""
    if not names:
        return {}
    rows = await conn.execute(
        sa.select(users.c.username_lower, users.c.id).join(members, members.c.user_id == users.c.id)
        .where(members.c.room_id == room_id, members.c.state.in_(("joined", "invited")),
               users.c.username_lower.in_(names)))
    return {r.username_lower: r.id for r in rows}
