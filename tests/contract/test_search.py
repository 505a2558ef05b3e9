"""Message search: the same answers on SQLite (FTS5) and PostgreSQL (tsvector), privacy by
membership (a room left: up to the leave), filters, paging, and an index kept with edits and deletes."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from parley.core import search as core_search
from parley.core.errors import Invalid, NotFound
from parley.core.models import User
from parley.services import search as search_service
from parley.store import search as search_store
from parley.store.db import async_url
from parley.store.tables import events
from parley.web.context import Context
from tests.contract.helpers import register


async def _hits(ctx: Context, user: User, q: str, **kw: Any) -> list[tuple[int, str]]:
    found = await ctx.search.search(user, q, **kw)
    return [(h["room"], h["message"]["text"]) for h in found["hits"]]


async def _texts(ctx: Context, user: User, q: str, **kw: Any) -> list[str]:
    return [text for _, text in await _hits(ctx, user, q, **kw)]


async def _send(ctx: Context, user: User, room: int, *texts: str) -> list[int]:
    return [(await ctx.messages.send(user, room, t))[0].seq for t in texts]


async def test_words_by_prefix_ignoring_case_and_accents_newest_first(ctx: Context) -> None:
    ann, bob = await register(ctx, "ann", "bob")
    room = (await ctx.rooms.create(ann, "general"))["id"]
    await ctx.rooms.join(bob, room)
    await _send(ctx, ann, room, "Meet at the Café at noon", "CAFES are closed today", "no match here",
                "Über naïve résumé", "café-au-lait")
    assert await _texts(ctx, bob, "cafe") == ["café-au-lait", "CAFES are closed today", "Meet at the Café at noon"]
    assert await _texts(ctx, bob, "CAFÉ") == await _texts(ctx, bob, "cafe")
    assert await _texts(ctx, bob, "uber resume") == ["Über naïve résumé"]
    assert await _texts(ctx, bob, "caf noon") == ["Meet at the Café at noon"]
    assert await _texts(ctx, bob, "au lait") == ["café-au-lait"]
    assert await _texts(ctx, bob, "afe") == []  # prefix, not substring
    assert await _texts(ctx, bob, "cafe zebra") == []  # every word must match


async def test_chinese_and_japanese_by_bigrams(ctx: Context) -> None:
    ann, bob = await register(ctx, "ann", "bob")
    room = (await ctx.rooms.create(ann, "general"))["id"]
    await ctx.rooms.join(bob, room)
    await _send(ctx, ann, room, "我们明天去咖啡店吧", "咖啡很好喝", "店里有咖", "東京に行きます", "meeting 会议 at 3")
    assert await _texts(ctx, bob, "咖啡") == ["咖啡很好喝", "我们明天去咖啡店吧"]
    assert await _texts(ctx, bob, "咖啡店") == ["我们明天去咖啡店吧"]
    assert await _texts(ctx, bob, "啡店") == ["我们明天去咖啡店吧"]
    assert await _texts(ctx, bob, "店咖") == []  # the characters, but not together
    assert await _texts(ctx, bob, "東京") == ["東京に行きます"]
    assert await _texts(ctx, bob, "行き") == ["東京に行きます"]
    assert await _texts(ctx, bob, "会议 meet") == ["meeting 会议 at 3"]


async def test_snippets_are_parts_with_highlights_never_markup(ctx: Context) -> None:
    ann, = await register(ctx, "ann")
    room = (await ctx.rooms.create(ann, "general"))["id"]
    payload = '<img src=x onerror=alert(1)> the Café opens'
    await _send(ctx, ann, room, payload)
    hit = (await ctx.search.search(ann, "cafe"))["hits"][0]
    assert "".join(part for part, _ in hit["snippet"]) == payload
    assert [part for part, marked in hit["snippet"] if marked] == ["Café"]
    assert hit["message"]["text"] == payload and hit["seq"] == hit["message"]["seq"]
    long = "word " * 200 + "目标在这里 " + "tail " * 200
    await _send(ctx, ann, room, long)
    parts = (await ctx.search.search(ann, "目标"))["hits"][0]["snippet"]
    assert [p for p, marked in parts if marked] == ["目标"]
    assert parts[0][0].startswith("…") and parts[-1] == ("…", False)
    assert len("".join(p for p, _ in parts)) < 200


@pytest.mark.parametrize("facet_rooms", [64, 0], ids=["rooms-in-index", "rooms-by-join"])
async def test_only_rooms_the_user_may_read_and_a_left_room_up_to_the_leave(
        ctx: Context, facet_rooms: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_service, "FACET_ROOMS_MAX", facet_rooms)
    ann, bob, eve = await register(ctx, "ann", "bob", "eve")
    open_room = (await ctx.rooms.create(ann, "open"))["id"]
    private = (await ctx.rooms.create(ann, "secret", visibility="private"))["id"]
    await ctx.rooms.join(bob, open_room)
    await _send(ctx, ann, private, "zebra in private")
    await _send(ctx, ann, open_room, "zebra before leaving")
    await ctx.rooms.leave(bob, open_room)
    await _send(ctx, ann, open_room, "zebra after leaving")
    assert await _texts(ctx, ann, "zebra") == ["zebra after leaving", "zebra before leaving", "zebra in private"]
    assert await _texts(ctx, bob, "zebra") == ["zebra before leaving"]
    assert await _texts(ctx, bob, "zebra", room_id=open_room) == ["zebra before leaving"]
    assert await _texts(ctx, eve, "zebra") == []
    for user, room in ((eve, open_room), (bob, private), (eve, 999_999)):
        with pytest.raises(NotFound):
            await ctx.search.search(user, "zebra", room_id=room)
    # Joining again opens the whole room again.
    await ctx.rooms.join(bob, open_room)
    assert await _texts(ctx, bob, "zebra") == ["zebra after leaving", "zebra before leaving"]
    # An invitation declined shows nothing.
    await ctx.rooms.invite(ann, private, ["eve"])
    await ctx.rooms.leave(eve, private)
    assert await _texts(ctx, eve, "zebra") == []


async def test_filters_room_sender_file_and_bounds(ctx: Context) -> None:
    ann, bob = await register(ctx, "ann", "bob")
    one = (await ctx.rooms.create(ann, "one"))["id"]
    two = (await ctx.rooms.create(ann, "two"))["id"]
    for r in (one, two):
        await ctx.rooms.join(bob, r)
    a1, a2 = await _send(ctx, ann, one, "report draft", "report final")
    (b1,) = await _send(ctx, bob, one, "report review")
    await _send(ctx, bob, two, "report elsewhere")
    assert await _texts(ctx, ann, "report", room_id=one) == ["report review", "report final", "report draft"]
    assert await _texts(ctx, ann, "report", sender="BOB") == ["report elsewhere", "report review"]
    assert await _texts(ctx, ann, "report", sender=str(bob.id), room_id=one) == ["report review"]
    assert await _texts(ctx, ann, "report", sender="nobody") == []
    assert await _texts(ctx, ann, "report", room_id=one, before=str(b1)) == ["report final", "report draft"]
    assert await _texts(ctx, ann, "report", room_id=one, after=str(a1), before=str(b1)) == ["report final"]
    assert await _texts(ctx, ann, "report", after="2000-01-01") == await _texts(ctx, ann, "report")
    assert await _texts(ctx, ann, "report", before="2000-01-01T00:00:00+08:00") == []
    with pytest.raises(Invalid):
        await ctx.search.search(ann, "report", before=str(a2))  # a seq needs a room
    with pytest.raises(Invalid):
        await ctx.search.search(ann, "report", after="yesterday")
    # Attachments come from another part: crafted here in the stored data.
    async with ctx.db.write() as conn:
        await conn.execute(events.update().where(events.c.room_id == one, events.c.seq == a2).values(
            data=orjson.dumps({"attachments": [{"id": 1, "name": "final.pdf", "size": 9, "content_type": "application/pdf", "url": "/media/1/final.pdf", "thumbnail_url": None, "width": None, "height": None, "duration_ms": None, "waveform": None}]}).decode()))
        await conn.execute(events.update().where(events.c.room_id == one, events.c.seq == a1).values(
            data=orjson.dumps({"attachments": []}).decode()))
    assert await _texts(ctx, ann, "report", has="file") == ["report final"]


async def _all_pages(ctx: Context, user: User, q: str, limit: int) -> list[str]:
    """The texts of every page, following `next_before` until `has_more` is false."""
    seen: list[str] = []
    before = None
    while True:
        page = await ctx.search.search(user, q, limit=limit, before=before)
        seen += [h["message"]["text"] for h in page["hits"]]
        if not page["has_more"]:
            assert page["next_before"] is None
            return seen
        before = page["next_before"]


async def test_paging_with_the_cursor_covers_everything_once(ctx: Context) -> None:
    ann, = await register(ctx, "ann")
    rooms = [(await ctx.rooms.create(ann, f"r{i}"))["id"] for i in range(3)]
    await asyncio.gather(*(ctx.messages.send(ann, rooms[i % 3], f"needle {i}") for i in range(25)))
    seen = await _all_pages(ctx, ann, "needle", 10)
    assert sorted(seen) == sorted(f"needle {i}" for i in range(25)) and len(seen) == 25
    ids = [h["message"]["id"] for h in (await ctx.search.search(ann, "needle", limit=50))["hits"]]
    assert ids == sorted(ids, reverse=True)


async def test_era_by_era_newest_first_finds_the_same_as_one_pass(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL searches era by era (core.search.ERA_BITS); with eras of 4 events, 60 messages
    span 15+ eras and every step of the walk. SQLite has no eras: both must answer alike."""
    monkeypatch.setattr(core_search, "ERA_BITS", 2)
    ann, bob = await register(ctx, "ann", "bob")
    room, other = [(await ctx.rooms.create(ann, name))["id"] for name in ("room", "other")]
    await ctx.rooms.join(bob, room)
    texts = [f"{'common' if i % 3 else 'plain'}{' rare' if i in (2, 50) else ''} n{i}" for i in range(60)]
    seqs = [(await ctx.messages.send(ann, room if i % 2 else other, text))[0].seq for i, text in enumerate(texts)]
    common = [t for t in reversed(texts) if t.startswith("common")]
    assert await _texts(ctx, ann, "comm", limit=5) == common[:5]
    assert await _texts(ctx, ann, "rare") == ["common rare n50", "common rare n2"]
    assert await _texts(ctx, bob, "common") == [t for i, t in reversed(list(enumerate(texts))) if i % 2 and i % 3]
    assert await _all_pages(ctx, ann, "common", 7) == common
    async with ctx.db.write() as conn:  # an edit indexes the new text in its event's era
        await search_store.reindex(conn, other, seqs[2], "edited n2")
    assert await _texts(ctx, ann, "rare") == ["common rare n50"]
    assert await _texts(ctx, ann, "edited") == ["common rare n2"]  # the stored text itself is unchanged here


@pytest.mark.parametrize("q", ["", "   ", "x" * 201, "!!! ???"])
async def test_bad_queries_are_invalid(ctx: Context, q: str) -> None:
    ann, = await register(ctx, "ann")
    with pytest.raises(Invalid):
        await ctx.search.search(ann, q)


async def test_reindex_and_unindex_follow_edits_and_deletes(ctx: Context) -> None:
    ann, = await register(ctx, "ann")
    room = (await ctx.rooms.create(ann, "general"))["id"]
    s1, s2 = await _send(ctx, ann, room, "original wording 原来", "to be erased 删除")
    async with ctx.db.write() as conn:  # what the edit does, then its call
        await conn.execute(events.update().where(events.c.room_id == room, events.c.seq == s1)
                           .values(text="revised wording 修改"))
        await search_store.reindex(conn, room, s1, "revised wording 修改")
        await conn.execute(events.update().where(events.c.room_id == room, events.c.seq == s2)
                           .values(text=None, data='{"deleted": true}'))
        await search_store.unindex(conn, room, s2)
    assert await _texts(ctx, ann, "original") == [] and await _texts(ctx, ann, "原来") == []
    assert await _texts(ctx, ann, "revis") == ["revised wording 修改"]
    assert await _texts(ctx, ann, "修改") == ["revised wording 修改"]
    assert await _texts(ctx, ann, "erased") == [] and await _texts(ctx, ann, "删除") == []


async def test_every_message_is_indexed_in_its_own_transaction(ctx: Context) -> None:
    """Batch path and service path alike: one index row per message with words, no more."""
    ann, bob = await register(ctx, "ann", "bob")
    room = (await ctx.rooms.create(ann, "general"))["id"]
    await asyncio.gather(*(ctx.messages.send(ann, room, f"batch {i}") for i in range(40)), ctx.rooms.join(bob, room))
    await ctx.messages.send(ann, room, "!!!")  # nothing to index
    key = "event_id" if "postgresql" in ctx.settings.database_url else "rowid"
    async with ctx.db.read() as conn:
        indexed = set((await conn.execute(sa.text(f"SELECT {key} FROM message_search"))).scalars())
        messages = set((await conn.execute(sa.select(events.c.id).where(
            events.c.type == "message", events.c.text != "!!!"))).scalars())
    assert indexed == messages and len(indexed) == 40


async def test_around_is_a_page_centred_on_the_seq(ctx: Context) -> None:
    ann, = await register(ctx, "ann")
    room = (await ctx.rooms.create(ann, "general"))["id"]
    seqs = await _send(ctx, ann, room, *[f"m{i}" for i in range(30)])
    page = await ctx.messages.history(ann, room, around=seqs[15], limit=10)
    assert [m["seq"] for m in page["messages"]] == list(range(seqs[15] - 5, seqs[15] + 5))
    assert page["has_more"] and page["has_more_after"] and page["last_seq"] == seqs[-1]
    end = await ctx.messages.history(ann, room, around=seqs[-1], limit=10)
    assert [m["seq"] for m in end["messages"]] == list(range(seqs[-1] - 9, seqs[-1] + 1))
    assert end["has_more"] and not end["has_more_after"]
    start = await ctx.messages.history(ann, room, around=1, limit=10)
    assert [m["seq"] for m in start["messages"]] == list(range(1, 11)) and not start["has_more"]
    with pytest.raises(Invalid):
        await ctx.messages.history(ann, room, around=3, before=5)


async def test_migration_indexes_existing_messages_and_remembers_leaves(database_url: str) -> None:
    """Messages and leaves stored before the search index existed are searchable after the upgrade."""
    from parley.store import migrate
    from tests.contract.helpers import close_context, open_context

    await migrate.upgrade(database_url, "0003")
    engine = create_async_engine(async_url(database_url))
    rows = [(1, "message", 1, "Old café notes 旧的咖啡"), (2, "member_joined", 2, None),
            (3, "message", 1, "seen before leaving"), (4, "member_left", 2, None), (5, "message", 1, "after leaving")]
    try:
        async with engine.begin() as conn:
            for uid, name in ((1, "ann"), (2, "bob")):
                await conn.execute(sa.text(
                    "INSERT INTO users (id, username, username_lower, display_name, password_hash, is_admin, disabled, "
                    "created_at) VALUES (:i, :n, :n, :n, 'x', false, false, 0)"), {"i": uid, "n": name})
            await conn.execute(sa.text("INSERT INTO rooms (id, kind, name, topic, visibility, archived, created_at, "
                                       "creator_id, last_seq) VALUES (1, 'room', 'old', '', 'public', false, 0, 1, 5)"))
            for uid, state in ((1, "joined"), (2, "left")):
                await conn.execute(sa.text(
                    "INSERT INTO members (room_id, user_id, role, state, read_seq, joined_seq, updated_at) "
                    "VALUES (1, :u, 10, :s, 0, 0, 0)"), {"u": uid, "s": state})
            for seq, kind, sender, text in rows:
                await conn.execute(sa.text("INSERT INTO events (room_id, seq, type, sender_id, ts, text) "
                                           "VALUES (1, :seq, :t, :s, 0, :x)"), {"seq": seq, "t": kind, "s": sender, "x": text})
    finally:
        await engine.dispose()
    ctx = await open_context(database_url)  # upgrades to head
    try:
        ann = User(1, "ann", "ann", False, False, 0)
        bob = User(2, "bob", "bob", False, False, 0)
        assert await _texts(ctx, ann, "CAFE") == ["Old café notes 旧的咖啡"]
        assert await _texts(ctx, ann, "咖啡") == ["Old café notes 旧的咖啡"]
        assert await _texts(ctx, bob, "leaving") == ["seen before leaving"]
    finally:
        await close_context(ctx)


async def test_a_cjk_run_must_be_contiguous_in_the_text(ctx: Context) -> None:
    """Neither index keeps positions: the bigrams narrow, the text decides. The phrase asked before
    ("咖啡" then "啡店" as adjacent tokens) also matched "咖啡 啡店", two runs side by side."""
    assert core_search.tokens("咖啡 啡店") == ["咖啡", "啡店"]  # what that phrase matched
    ann, bob = await register(ctx, "ann", "bob")
    room = (await ctx.rooms.create(ann, "general"))["id"]
    await ctx.rooms.join(bob, room)
    _, _, seq, _, _ = await _send(ctx, ann, room, "咖啡 啡店", "咖啡好，啡店远", "去咖啡店", "咖啡啡店", "新咖啡店开了 café")
    assert await _texts(ctx, bob, "咖啡店") == ["新咖啡店开了 café", "去咖啡店"]
    assert await _texts(ctx, bob, "咖啡店 caf") == ["新咖啡店开了 café"]
    assert await _texts(ctx, bob, "咖啡店", room_id=room) == ["新咖啡店开了 café", "去咖啡店"]  # with the facets
    assert await _texts(ctx, bob, "啡店") == ["新咖啡店开了 café", "咖啡啡店", "去咖啡店", "咖啡好，啡店远", "咖啡 啡店"]
    assert await _texts(ctx, bob, "啡啡店") == ["咖啡啡店"]
    # The text checked is the current one: an edit that keeps the bigrams apart no longer matches.
    async with ctx.db.write() as conn:
        await conn.execute(events.update().where(events.c.room_id == room, events.c.seq == seq).values(text="咖啡 啡店 去"))
        await search_store.reindex(conn, room, seq, "咖啡 啡店 去")
    assert await _texts(ctx, bob, "咖啡店") == ["新咖啡店开了 café"]


async def test_deleted_events_leave_no_index_rows_even_by_cascade(ctx: Context) -> None:
    """PostgreSQL: the trigger over the deleted rows that replaced the foreign key; SQLite: the
    row trigger. Events go one by one, in a statement of several, or with their room."""
    ann, = await register(ctx, "ann")
    kept = (await ctx.rooms.create(ann, "kept"))["id"]
    gone = (await ctx.rooms.create(ann, "gone"))["id"]
    await _send(ctx, ann, kept, "alpha one", "alpha two", "alpha three", "alpha four")
    await _send(ctx, ann, gone, "alpha in a room that goes", "beta 咖啡店")
    key = "event_id" if "postgresql" in ctx.settings.database_url else "rowid"

    async def indexed() -> set[int]:
        async with ctx.db.read() as conn:
            return set((await conn.execute(sa.text(f"SELECT {key} FROM message_search"))).scalars())

    async with ctx.db.read() as conn:
        ids = dict((await conn.execute(sa.select(events.c.text, events.c.id).where(events.c.type == "message"))).all())
    assert await indexed() == set(ids.values())
    async with ctx.db.write() as conn:
        await conn.execute(events.delete().where(events.c.id == ids["alpha one"]))
        await conn.execute(events.delete().where(events.c.id.in_([ids["alpha two"], ids["alpha three"]])))
    assert await _texts(ctx, ann, "alpha") == ["alpha in a room that goes", "alpha four"]
    async with ctx.db.write() as conn:
        await conn.execute(sa.text("DELETE FROM rooms WHERE id = :r"), {"r": gone})  # its events by cascade
    assert await _texts(ctx, ann, "alpha") == ["alpha four"]
    assert await _texts(ctx, ann, "beta") == [] and await _texts(ctx, ann, "咖啡店") == []
    assert await indexed() == {ids["alpha four"]}


async def test_upgrade_from_0020_keeps_the_index_searchable_and_downgrade_too(database_url: str) -> None:
    """0021 builds SQLite's FTS5 table again (`detail=none`) from the old one's rows, and moves
    PostgreSQL from a foreign key to a trigger; rows written with positions (before) still match."""
    from alembic import command
    from alembic.config import Config

    from parley.store import migrate
    from tests.contract.helpers import close_context, open_context

    async def to(revision: str, down: bool = False) -> None:
        engine = create_async_engine(async_url(database_url))
        try:
            async with engine.begin() as conn:
                def run(sync_conn: sa.Connection) -> None:
                    cfg = Config()
                    cfg.set_main_option("script_location", str(migrate.SCRIPTS))
                    cfg.attributes["connection"] = sync_conn
                    (command.downgrade if down else command.upgrade)(cfg, revision)
                await conn.run_sync(run)
        finally:
            await engine.dispose()

    postgres = database_url.startswith("postgresql")

    async def lean() -> bool:
        """PostgreSQL: no foreign key; SQLite: the FTS5 table keeps no positions."""
        async with ctx.db.read() as conn:
            if postgres:
                return not await conn.scalar(sa.text(
                    "SELECT count(*) FROM pg_constraint WHERE conname = 'message_search_event_id_fkey'"))
            return "detail = none" in await conn.scalar(sa.text(
                "SELECT sql FROM sqlite_master WHERE name = 'message_search'"))

    ctx = await open_context(database_url)
    try:
        ann, = await register(ctx, "ann")
        room = (await ctx.rooms.create(ann, "general"))["id"]
        await _send(ctx, ann, room, "kept across the rebuild", "去咖啡店 then coffee", "咖啡 啡店")
        assert await lean()
        await to("0020", down=True)
        assert not await lean()
        assert await _texts(ctx, ann, "咖啡") == ["咖啡 啡店", "去咖啡店 then coffee"]
        if postgres:  # rows as 0005..0020 wrote them: every lexeme with a position
            async with ctx.db.write() as conn:
                await conn.exec_driver_sql("UPDATE message_search SET tsv = CAST(regexp_replace(CAST(tsv AS text), "
                                           "'''( |$)', ''':1\\1', 'g') AS tsvector)")
                assert ":1" in await conn.scalar(sa.text("SELECT min(CAST(tsv AS text)) FROM message_search"))
        await to("head")
        assert await lean()
        assert await _texts(ctx, ann, "kept rebuild") == ["kept across the rebuild"]
        assert await _texts(ctx, ann, "coff") == ["去咖啡店 then coffee"]
        assert await _texts(ctx, ann, "咖啡店") == ["去咖啡店 then coffee"]
        assert await _texts(ctx, ann, "咖啡") == ["咖啡 啡店", "去咖啡店 then coffee"]
        await _send(ctx, ann, room, "new after the upgrade")
        assert await _texts(ctx, ann, "upgrade") == ["new after the upgrade"]
    finally:
        await close_context(ctx)
