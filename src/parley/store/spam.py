"""The spam filter's rows: its model (one row, versioned) and the messages held for review."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.models import MemberState, Role
from parley.core.spam import Held
from parley.core.uploads import avatar_url
from parley.store.tables import audit_log, held_messages, members, spam_model, users

MODEL_ROW = 1
_HELD = (held_messages.c.id, held_messages.c.room_id, users.c.id, users.c.username, users.c.display_name,
         users.c.avatar, held_messages.c.client_msg_id, held_messages.c.data, held_messages.c.score,
         held_messages.c.reasons, held_messages.c.created_at)


async def model_version(conn: AsyncConnection) -> int | None:
    return await conn.scalar(sa.select(spam_model.c.version).where(spam_model.c.id == MODEL_ROW))


async def load_model(conn: AsyncConnection, *, lock: bool = False) -> tuple[int, bytes] | None:
    """(version, state); with lock=True the row stays locked until commit (PostgreSQL), so two
    nodes learning at once take turns rather than one overwriting the other's step."""
    stmt = sa.select(spam_model.c.version, spam_model.c.state).where(spam_model.c.id == MODEL_ROW)
    row = (await conn.execute(stmt.with_for_update() if lock else stmt)).one_or_none()
    return None if row is None else (int(row[0]), bytes(row[1]))


async def create_model(conn: AsyncConnection, state: bytes, now: int) -> bool:
    """Store the first model (version 1); False when another node stored one first."""
    insert = _insert(conn, spam_model).values(id=MODEL_ROW, version=1, state=state, updated_at=now)
    result = await conn.execute(insert.on_conflict_do_nothing(index_elements=["id"]))
    return bool(result.rowcount)


async def save_model(conn: AsyncConnection, version: int, state: bytes, now: int) -> None:
    """Replace the model read (locked) at `version` by its successor, version + 1."""
    await conn.execute(spam_model.update().where(spam_model.c.id == MODEL_ROW, spam_model.c.version == version)
                       .values(version=version + 1, state=state, updated_at=now))


async def model_info(conn: AsyncConnection) -> tuple[int, int] | None:
    """(version, when it was trained or last learned) of the stored model."""
    row = (await conn.execute(sa.select(spam_model.c.version, spam_model.c.updated_at)
                              .where(spam_model.c.id == MODEL_ROW))).one_or_none()
    return None if row is None else (int(row[0]), int(row[1]))


async def decision_counts(conn: AsyncConnection, since: int) -> dict[str, int]:
    """For the admin console: messages held for review now, held since `since` (still waiting or
    decided since), and moderators' approvals and rejections since `since` (from the audit log)."""
    waiting, held_since = (await conn.execute(sa.select(
        sa.func.count(), sa.func.count().filter(held_messages.c.created_at >= since)))).one()
    decided = dict((await conn.execute(
        sa.select(audit_log.c.action, sa.func.count())
        .where(audit_log.c.action.in_(("approve_message", "reject_message")), audit_log.c.ts >= since)
        .group_by(audit_log.c.action))).all())
    approved, rejected = int(decided.get("approve_message", 0)), int(decided.get("reject_message", 0))
    return {"waiting": int(waiting), "held": int(held_since) + approved + rejected,
            "approved": approved, "rejected": rejected}


def _insert(conn: AsyncConnection, table: sa.Table) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def _held(r: Sequence[Any]) -> Held:
    sender = {"id": r[2], "username": r[3], "display_name": r[4], "avatar_url": avatar_url(r[2], r[5])}
    return Held(r[0], r[1], sender, r[6], orjson.loads(r[7]), r[8], orjson.loads(r[9]), r[10])


def _select() -> sa.Select:
    return sa.select(*_HELD).join(users, users.c.id == held_messages.c.sender_id)


async def hold(conn: AsyncConnection, rows: Sequence[dict[str, Any]], now: int) -> list[Held]:
    """Store messages held for review: each row {room_id, sender_id, client_msg_id, data, score,
    reasons}. A retry with a client_msg_id held already returns that held message."""
    out = []
    for row in rows:
        values = {**row, "data": orjson.dumps(row["data"]).decode(), "reasons": orjson.dumps(row["reasons"]).decode(),
                  "created_at": now}
        new_id = await conn.scalar(_insert(conn, held_messages).values(**values)
                                   .on_conflict_do_nothing().returning(held_messages.c.id))
        where = (held_messages.c.id == new_id if new_id is not None else sa.and_(
            held_messages.c.room_id == row["room_id"], held_messages.c.sender_id == row["sender_id"],
            held_messages.c.client_msg_id == row["client_msg_id"]))
        out.append(_held((await conn.execute(_select().where(where))).one()))
    return out


async def get(conn: AsyncConnection, held_id: int) -> Held | None:
    row = (await conn.execute(_select().where(held_messages.c.id == held_id))).one_or_none()
    return None if row is None else _held(row)


async def delete(conn: AsyncConnection, held_id: int) -> bool:
    return bool((await conn.execute(held_messages.delete().where(held_messages.c.id == held_id))).rowcount)


async def of_rooms(conn: AsyncConnection, room_ids: Iterable[int] | None, before: int | None, limit: int) -> list[Held]:
    """Held messages, newest first: of the given rooms, or of every room (None)."""
    stmt = _select()
    if room_ids is not None:
        stmt = stmt.where(held_messages.c.room_id.in_(list(room_ids)))
    if before is not None:
        stmt = stmt.where(held_messages.c.id < before)
    return [_held(r) for r in await conn.execute(stmt.order_by(held_messages.c.id.desc()).limit(limit))]


async def of_sender(conn: AsyncConnection, sender_id: int, limit: int) -> list[Held]:
    """One sender's held messages, oldest first (ix_held_messages_sender)."""
    stmt = _select().where(held_messages.c.sender_id == sender_id).order_by(held_messages.c.id).limit(limit)
    return [_held(r) for r in await conn.execute(stmt)]


async def rejected_of(conn: AsyncConnection, sender_id: int, since: int, limit: int) -> list[int]:
    """Ids of one sender's held messages a moderator rejected since `since` (ms), newest first: read
    from the audit log's `reject_message` entries (ix_audit_log_target), as the held rows are gone."""
    rows = await conn.execute(sa.select(audit_log.c.data).where(
        audit_log.c.target_id == sender_id, audit_log.c.action == "reject_message", audit_log.c.ts >= since,
    ).order_by(audit_log.c.id.desc()).limit(limit))
    return [held for (data,) in rows if data and isinstance(held := orjson.loads(data).get("held"), int)]


async def moderated_rooms(conn: AsyncConnection, user_id: int) -> list[int]:
    """The rooms where the user is a joined moderator or above."""
    return list((await conn.scalars(sa.select(members.c.room_id).where(
        members.c.user_id == user_id, members.c.state == MemberState.JOINED.value,
        members.c.role >= int(Role.MODERATOR)))).all())


async def reviewers(conn: AsyncConnection, room_ids: Iterable[int]) -> dict[int, set[int]]:
    """{room: user ids} of who reviews each room's held messages: its joined moderators and up,
    and every server admin."""
    ids = sorted(set(room_ids))
    admins = set((await conn.scalars(sa.select(users.c.id).where(users.c.is_admin.is_(True),
                                                                   users.c.disabled.is_(False)))).all())
    out = {room: set(admins) for room in ids}
    for room, user in await conn.execute(sa.select(members.c.room_id, members.c.user_id).where(
            members.c.room_id.in_(ids), members.c.state == MemberState.JOINED.value,
            members.c.role >= int(Role.MODERATOR))):
        out[room].add(user)
    return out
