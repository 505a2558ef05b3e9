"""Privacy (issue 11): a user's export, deleting an account, and the retention sweep.

- `export` streams a zip of the user's own data (JSON and their files), built as it is sent:
  nothing is spooled, memory stays at a chunk or a page of messages.
- `delete_account` checks the password (throttled as a password change is), then in one
  transaction, rooms locked in id order as the send batch does: the account becomes the "deleted
  user" placeholder (every session revoked in the same commit), it leaves every room (a last owner
  hands the room to the longest-standing member of the highest role), its reactions go, its
  uploads go, and its messages are kept under the placeholder or erased into tombstones
  (`PARLEY_DELETED_ACCOUNT_MESSAGES`). Events go out after the commit, blobs are collected after it.
- `sweep` erases, in place, the messages older than each room's retention: one transaction and one
  `history_purged` event per room and sweep; idempotent (a room's `purged_seq` says how far it is
  done), so every node may run it.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import zipfile
from collections.abc import AsyncIterator
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core import privacy as rules
from parley.core import wire
from parley.core.actions import tombstone
from parley.core.errors import RateLimited
from parley.core.models import Event, EventType, MemberState, Role, User
from parley.core.ratelimit import Rate
from parley.services.accounts import Accounts
from parley.services.deps import Deps
from parley.services.emitter import Emitter
from parley.services.uploads import Uploads
from parley.store import actions as actions_store
from parley.store import audit as audit_store
from parley.store import events as event_store
from parley.store import privacy as store
from parley.store import rooms as room_store
from parley.store import search as search_store
from parley.store import users as user_store

log = logging.getLogger(__name__)
EXPORT_RATE = Rate(burst=1, per_second=1 / 60)  # one export a minute per user: each reads everything
SWEEP_EVERY_S = 3600.0


class Privacy:
    def __init__(self, deps: Deps, emitter: Emitter, accounts: Accounts, uploads: Uploads, *,
                 deleted_messages: rules.DeletedMessages = rules.DeletedMessages.KEEP,
                 retention_days: int = 0, sweep_every_s: float = SWEEP_EVERY_S) -> None:
        self.deps, self.emitter, self.accounts, self.uploads = deps, emitter, accounts, uploads
        self.sweep_every_s = sweep_every_s
        self.deleted_messages = deleted_messages
        self.retention_days = retention_days  # the server's default for rooms that set none
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep_loop())

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper

    # -- export --------------------------------------------------------------------------------------

    async def check_export(self, user: User) -> None:
        wait = await self.deps.bus.hit(f"export:{user.id}", EXPORT_RATE)
        if wait:
            raise RateLimited(f"one export a minute; retry in {wait:.0f} s", wait)

    async def export(self, user: User) -> AsyncIterator[bytes]:
        """The zip, in pieces as it is written (call `check_export` first)."""
        out = _Drain()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            async with self.deps.db.read() as conn:
                found = await user_store.by_id(conn, user.id)
                joined = await store.rooms_of(conn, user.id)
                files = await store.uploads_of(conn, user.id)
                reacted = await store.reactions_of(conn, user.id)
            assert found is not None
            me = found[0]
            zf.writestr("README.txt", rules.README)
            zf.writestr("profile.json", _json({**me.private(), "status": me.status}))
            zf.writestr("rooms.json", _json([_room_entry(r) for r in joined]))
            zf.writestr("reactions.json", _json(reacted))
            names = {f[0]: rules.upload_file_name(f[0], f[2]) for f in files}
            with zf.open("messages.json", "w") as entry:
                entry.write(b"[")
                after = 0
                while True:  # a page per read: a slow download holds no database connection
                    async with self.deps.db.read() as conn:
                        page = await store.messages_page(conn, user.id, after)
                        edits = await store.versions_of(conn, [(m.room_id, m.seq) for m in page])
                    if not page:
                        break
                    for message in page:
                        item = rules.exported_message(message.wire(), edits.get((message.room_id, message.seq), []),
                                                      names)
                        entry.write((b"\n" if after == 0 and message is page[0] else b",\n") + orjson.dumps(item))
                    after = page[-1].id
                    yield out.take()
                entry.write(b"\n]\n")
            yield out.take()
            for upload_id, _room, _name, size, _type, blob, _seq in files:
                async for piece in self._copy_blob(zf, names[upload_id], blob, size, out):
                    yield piece
            if me.avatar:
                size = await self.uploads.blobs.size(me.avatar)
                async for piece in self._copy_blob(zf, "avatar", me.avatar, size, out):
                    yield piece
        yield out.take()

    async def _copy_blob(self, zf: zipfile.ZipFile, name: str, key: str, size: int,
                         out: _Drain) -> AsyncIterator[bytes]:
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_STORED  # pictures and media are compressed already
        info.file_size = size  # zipfile decides on ZIP64 from it
        with zf.open(info, "w") as entry:
            async for chunk in self.uploads.open_range(key):
                entry.write(chunk)
                yield out.take()

    # -- deleting an account -------------------------------------------------------------------------

    async def delete_account(self, user: User, password: object) -> None:
        await self.accounts.check_password(user, password)
        now = self.deps.clock()
        erase = self.deleted_messages is rules.DeletedMessages.ERASE
        emitted: list[Event] = []
        async with self.deps.db.write() as conn:
            mine = dict(await store.memberships(conn, user.id))
            with_messages = set(await store.rooms_with_messages(conn, user.id))
            with_reactions = set(await store.rooms_with_reactions(conn, user.id))
            for room_id in sorted(mine.keys() | with_messages | with_reactions):  # the batch's lock order
                await room_store.get(conn, room_id, lock=True)
            old_avatar = await store.anonymise(conn, user.id, username=rules.placeholder_username(),
                                               display_name=rules.DELETED_DISPLAY_NAME, now=now)
            await user_store.delete_sessions_of(conn, user.id)
            await user_store.record_revocation(conn, user.id, 0, now)
            found = await user_store.by_id(conn, user.id)
            assert found is not None
            ghost = found[0]
            await audit_store.record(conn, actor_id=user.id, action="delete_account", target_id=user.id, now=now,
                                     data={"messages": self.deleted_messages.value})
            # told the new name at once, as for a rename: their pages show "Deleted user" everywhere
            recipients = [u for u in await room_store.sharing(conn, user.id) if u != user.id]
            carried, blob_keys = await store.delete_uploads(conn, user.id)
            if not erase:
                emitted += await self._drop_files(conn, carried, ghost)
            for room_id in sorted(mine):
                emitted += await self._leave(conn, room_id, ghost, mine[room_id])
            for room_id in sorted(with_reactions):
                removed = await store.remove_reactions(conn, user.id, room_id)
                emitted += await self._append(conn, room_id, ghost, [
                    (EventType.REACTION_REMOVED, {"target": seq, "emoji": emoji, "user": user.id})
                    for seq, emoji in removed])
            if erase:
                for room_id in sorted(with_messages):
                    emitted += await self._erase_messages(conn, room_id, ghost)
        await self.emitter.revoke(user.id)
        await self.emitter.room_events(emitted)
        await self.emitter.to_users(recipients, wire.UserUpdatedFrame(user=wire.profile(ghost)))
        await self.uploads.collect_blobs([*blob_keys, *([old_avatar] if old_avatar else [])])
        log.info("deleted account %s (messages %s)", user.id, self.deleted_messages.value)

    async def _leave(self, conn: AsyncConnection, room_id: int, ghost: User, state: str) -> list[Event]:
        """Leave (or decline) like `Rooms.leave`, except that a last owner hands the room over
        first and that direct chats are left too."""
        emitted: list[Event] = []
        membership = await room_store.membership(conn, room_id, ghost.id)
        assert membership is not None
        if membership.state is MemberState.JOINED and membership.role is Role.OWNER:
            heir = await self._heir(conn, room_id, ghost.id)
            if heir is not None:
                await room_store.set_role(conn, room_id, heir.id, Role.OWNER, self.deps.clock())
                emitted += await self._append(conn, room_id, ghost, [
                    (EventType.MEMBER_UPDATED, {"user": heir.public(), "role": Role.OWNER.label})])
        emitted += await self._append(conn, room_id, ghost, [(EventType.MEMBER_LEFT, {"user": ghost.public()})])
        left_seq = emitted[-1].seq if state == MemberState.JOINED.value else None
        await room_store.set_state(conn, room_id, ghost.id, MemberState.LEFT, self.deps.clock(), left_seq=left_seq)
        return emitted

    @staticmethod
    async def _heir(conn: AsyncConnection, room_id: int, user_id: int) -> User | None:
        """The next owner when the last one goes: another owner means none is needed; else the
        joined member of the highest role who joined first."""
        rows = [(u, m) for u, m in await room_store.member_list(conn, room_id, (MemberState.JOINED,))
                if u.id != user_id]
        if not rows or any(m.role is Role.OWNER for _, m in rows):
            return None
        return min(rows, key=lambda um: (-um[1].role, um[1].joined_seq))[0]

    async def _drop_files(self, conn: AsyncConnection, carried: list[tuple[int, int]], ghost: User) -> list[Event]:
        """Kept messages lose the files erased with the account; one left with nothing is a
        tombstone, told as a `message_deleted`."""
        by_room: dict[int, list[int]] = {}
        for room_id, seq in carried:
            by_room.setdefault(room_id, []).append(seq)
        emitted: list[Event] = []
        for room_id, seqs in sorted(by_room.items()):
            changed = [(s, rules.without_files(d)) for s, d in await store.messages_in(conn, room_id, seqs)]
            await store.rewrite_many(conn, room_id, changed)
            emitted += await self._append(conn, room_id, ghost, [
                (EventType.MESSAGE_DELETED, {"target": s, "by": ghost.id}) for s, d in changed if d.get("deleted")])
        return emitted

    async def _erase_messages(self, conn: AsyncConnection, room_id: int, ghost: User) -> list[Event]:
        found = await store.live_messages_in(conn, room_id, ghost.id)
        if not found:
            return []
        await store.rewrite_many(conn, room_id, [(seq, tombstone(data)) for seq, data in found])
        for seq, _ in found:
            await actions_store.erase(conn, room_id, seq)
            await search_store.unindex(conn, room_id, seq)
        return await self._append(conn, room_id, ghost, [
            (EventType.MESSAGE_DELETED, {"target": seq, "by": ghost.id}) for seq, _ in found])

    # -- retention -----------------------------------------------------------------------------------

    async def sweep(self, now: int | None = None) -> dict[int, int]:
        """Erase the messages past their room's retention. Returns {room id: before_seq} of the
        rooms where something was erased."""
        now = self.deps.clock() if now is None else now
        async with self.deps.db.read() as conn:
            candidates = await store.rooms_to_sweep(conn, self.retention_days)
        done: dict[int, int] = {}
        for room_id, days, _purged in candidates:
            before = await self._purge_room(room_id, rules.retention_cutoff(now, days))
            if before is not None:
                done[room_id] = before
        return done

    async def _purge_room(self, room_id: int, cutoff: int) -> int | None:
        keys: list[str] = []
        async with self.deps.db.write() as conn:
            await room_store.get(conn, room_id, lock=True)
            low = await store.purged(conn, room_id)  # read under the lock: another node may have swept
            before = await store.purge_point(conn, room_id, low, cutoff)
            if before is None:
                return None
            found = await store.messages_between(conn, room_id, low, before)
            await store.rewrite_many(conn, room_id, [(seq, tombstone(data)) for seq, data in found])
            keys = await store.erase_below(conn, room_id, before)
            await store.set_purged(conn, room_id, before)
            emitted = await self._append(conn, room_id, None, [(EventType.HISTORY_PURGED, {"before_seq": before})])
        await self.emitter.room_events(emitted)
        if keys:
            await self.uploads.collect_blobs(keys)
        return before

    async def _sweep_loop(self) -> None:
        while True:
            try:
                done = await self.sweep()
                if done:
                    log.info("retention erased messages in %d room(s)", len(done))
            except Exception:
                log.exception("the retention sweep failed")
            await asyncio.sleep(self.sweep_every_s)

    async def _append(self, conn: AsyncConnection, room_id: int, sender: User | None,
                      items: list[tuple[EventType, dict[str, Any]]]) -> list[Event]:
        if not items:
            return []
        now = self.deps.clock()
        drafts = [event_store.Draft(room_id, sender.id if sender else None, etype, data) for etype, data in items]
        placed = await event_store.append(conn, drafts, now)
        shown = sender.public() if sender else None
        return [d.event(eid, seq, now, shown) for d, (eid, seq) in zip(drafts, placed, strict=True)]


class _Drain(io.RawIOBase):
    """A write-only, unseekable file for zipfile (which then writes data descriptors): what was
    written since the last `take`."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._told = 0

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        data = bytes(b)
        self._parts.append(data)
        self._told += len(data)
        return len(data)

    def tell(self) -> int:
        return self._told

    def take(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


def _json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2)


def _room_entry(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "kind": row["kind"], "name": row["name"], "topic": row["topic"],
            "visibility": row["visibility"], "role": Role(row["role"]).label, "state": row["state"],
            "since": row["updated_at"]}

