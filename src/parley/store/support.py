"""Customer service (issue 12): support rooms, knowledge-base entries, visitors' conversations,
and which accounts are the assistant or guests."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.models import User
from parley.core.support import Entry
from parley.store.tables import (
    members,
    rooms,
    support_accounts,
    support_conversations,
    support_entries,
    support_rooms,
    users,
)

_CONV = (support_conversations.c.id, support_conversations.c.support_room_id, support_conversations.c.room_id,
         support_conversations.c.guest_id, support_conversations.c.state, support_conversations.c.agent_id,
         support_conversations.c.last_text, support_conversations.c.created_at, support_conversations.c.updated_at)
_ENTRY = (support_entries.c.id, support_entries.c.title, support_entries.c.answer, support_entries.c.tags)


@dataclass(frozen=True, slots=True)
class Conversation:
    id: int
    support_room_id: int
    room_id: int
    guest_id: int
    state: str
    agent_id: int | None
    last_text: str
    created_at: int
    updated_at: int


# -- accounts ----------------------------------------------------------------------------------------


async def account_kind(conn: AsyncConnection, user_id: int) -> str | None:
    return (await conn.execute(sa.select(support_accounts.c.kind).where(
        support_accounts.c.user_id == user_id))).scalar_one_or_none()


async def without_guests(conn: AsyncConnection, people: list[User]) -> list[User]:
    """`people` less the widget's visitors: nobody starts a direct chat with one or invites one."""
    if not people:
        return people
    guests = set((await conn.execute(sa.select(support_accounts.c.user_id).where(
        support_accounts.c.user_id.in_([p.id for p in people]), support_accounts.c.kind == "guest"))).scalars())
    return [p for p in people if p.id not in guests]


async def assistant_id(conn: AsyncConnection) -> int | None:
    return (await conn.execute(sa.select(support_accounts.c.user_id).where(
        support_accounts.c.kind == "assistant").order_by(support_accounts.c.user_id).limit(1))).scalar_one_or_none()


async def mark_account(conn: AsyncConnection, user_id: int, kind: str, now: int) -> None:
    await conn.execute(support_accounts.insert().values(user_id=user_id, kind=kind, created_at=now))
    if kind == "assistant":  # a bot of the server's own (no owner): marked as a bot wherever it shows
        await conn.execute(users.update().where(users.c.id == user_id).values(bot=True))


# -- support rooms -----------------------------------------------------------------------------------


async def is_support_room(conn: AsyncConnection, room_id: int) -> bool:
    return (await conn.execute(sa.select(support_rooms.c.room_id).where(
        support_rooms.c.room_id == room_id))).first() is not None


async def enable_room(conn: AsyncConnection, room_id: int, now: int) -> bool:
    """True when the room became a support room now."""
    if await is_support_room(conn, room_id):
        return False
    await conn.execute(support_rooms.insert().values(room_id=room_id, greeting="", created_at=now))
    return True


# -- knowledge base ----------------------------------------------------------------------------------


async def entries(conn: AsyncConnection, room_id: int) -> list[Entry]:
    rows = await conn.execute(sa.select(*_ENTRY).where(support_entries.c.room_id == room_id)
                              .order_by(support_entries.c.id))
    return [Entry(*r) for r in rows]


async def readable_entries(conn: AsyncConnection, readers: list[int], limit: int = 5000) -> list[Entry]:
    """The entries of the support rooms every one of `readers` may read: the public ones, and the
    private ones all of them are joined members of (issue 12: the assistant outside support
    conversations, whose answer all the readers see). Never a private room's someone cannot read."""
    readers = sorted(set(readers))
    inside = (sa.select(sa.func.count()).select_from(members)
              .where(members.c.room_id == support_rooms.c.room_id, members.c.state == "joined",
                     members.c.user_id.in_(readers)).scalar_subquery())
    allowed = rooms.c.visibility == "public"
    if readers:
        allowed = sa.or_(allowed, inside == len(readers))
    readable = sa.select(support_rooms.c.room_id).join(rooms, rooms.c.id == support_rooms.c.room_id).where(allowed)
    rows = await conn.execute(sa.select(*_ENTRY).where(support_entries.c.room_id.in_(readable))
                              .order_by(support_entries.c.id).limit(limit))
    return [Entry(*r) for r in rows]


async def entry_count(conn: AsyncConnection, room_id: int) -> int:
    return (await conn.execute(sa.select(sa.func.count()).select_from(support_entries).where(
        support_entries.c.room_id == room_id))).scalar_one()


async def add_entry(conn: AsyncConnection, room_id: int, title: str, answer: str, tags: str, now: int) -> Entry:
    row = (await conn.execute(support_entries.insert().values(
        room_id=room_id, title=title, answer=answer, tags=tags, created_at=now, updated_at=now).returning(*_ENTRY))).one()
    return Entry(*row)


async def add_entries(conn: AsyncConnection, room_id: int, items: list[tuple[str, str, str]], now: int) -> list[Entry]:
    return [await add_entry(conn, room_id, title, answer, tags, now) for title, answer, tags in items]


async def update_entry(conn: AsyncConnection, room_id: int, entry_id: int, title: str, answer: str, tags: str,
                       now: int) -> Entry | None:
    row = (await conn.execute(support_entries.update().where(
        support_entries.c.id == entry_id, support_entries.c.room_id == room_id).values(
        title=title, answer=answer, tags=tags, updated_at=now).returning(*_ENTRY))).first()
    return Entry(*row) if row else None


async def delete_entry(conn: AsyncConnection, room_id: int, entry_id: int) -> bool:
    result = await conn.execute(support_entries.delete().where(
        support_entries.c.id == entry_id, support_entries.c.room_id == room_id))
    return result.rowcount > 0


# -- conversations -----------------------------------------------------------------------------------


async def add_conversation(conn: AsyncConnection, *, support_room_id: int, room_id: int, guest_id: int,
                           now: int) -> Conversation:
    row = (await conn.execute(support_conversations.insert().values(
        support_room_id=support_room_id, room_id=room_id, guest_id=guest_id, state="bot", last_text="",
        created_at=now, updated_at=now).returning(*_CONV))).one()
    return Conversation(*row)


async def conversation(conn: AsyncConnection, conversation_id: int, *, lock: bool = False) -> Conversation | None:
    query = sa.select(*_CONV).where(support_conversations.c.id == conversation_id)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    return Conversation(*row) if row else None


async def conversation_of_guest(conn: AsyncConnection, guest_id: int) -> Conversation | None:
    row = (await conn.execute(sa.select(*_CONV).where(support_conversations.c.guest_id == guest_id))).first()
    return Conversation(*row) if row else None


async def conversation_of_room(conn: AsyncConnection, room_id: int) -> Conversation | None:
    row = (await conn.execute(sa.select(*_CONV).where(support_conversations.c.room_id == room_id))).first()
    return Conversation(*row) if row else None


async def queue(conn: AsyncConnection, support_room_id: int, states: tuple[str, ...], limit: int) -> list[Conversation]:
    rows = await conn.execute(sa.select(*_CONV).where(
        support_conversations.c.support_room_id == support_room_id,
        support_conversations.c.state.in_(states)).order_by(support_conversations.c.id.desc()).limit(limit))
    return [Conversation(*r) for r in rows]


async def set_state(conn: AsyncConnection, conversation_id: int, now: int, *, expect: tuple[str, ...],
                    **values: object) -> Conversation | None:
    """Moves a conversation on only from one of the `expect`ed states: of two racing agents taking
    it, one gets the row and the other None."""
    row = (await conn.execute(support_conversations.update().where(
        support_conversations.c.id == conversation_id, support_conversations.c.state.in_(expect)).values(
        updated_at=now, **values).returning(*_CONV))).first()
    return Conversation(*row) if row else None


async def note_text(conn: AsyncConnection, conversation_id: int, text: str, now: int) -> None:
    await conn.execute(support_conversations.update().where(support_conversations.c.id == conversation_id).values(
        last_text=text, updated_at=now))
