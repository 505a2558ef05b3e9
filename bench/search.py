"""Message search over a million messages: server time of typical queries, on SQLite and PostgreSQL.

Loads N messages (1,000,000 by default) of mixed English and Chinese text straight through the
store's one writer (`store.events.writes`, the same statements and index rows as the send batch,
in transactions of 5,000), spread over 1,000 rooms of 10 members, then times the search service
(`Search.search`: parsing, the rate limiter, the SQL, snippets and encoding; everything a request
costs but HTTP and authentication) for a member of 50 rooms. Prints p50/p99/max per query type.

    .venv/bin/python bench/search.py                       # SQLite, in a temporary folder
    .venv/bin/python bench/search.py --database-url postgresql://postgres@127.0.0.1:5432/parley_bench_search
    .venv/bin/python bench/search.py -N 100000 --keep      # keep the database for another run (--reuse)
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ScratchPostgres, percentile  # noqa: E402
from parley.app import build  # noqa: E402
from parley.config import Settings  # noqa: E402
from parley.core.models import EventType, Role, User  # noqa: E402
from parley.store import migrate  # noqa: E402
from parley.store.events import Draft, writes  # noqa: E402
from parley.store.messagelog import run_asyncpg, run_sqlite  # noqa: E402

USERS, ROOMS, MEMBERS, JOINED = 500, 1000, 10, 50
BATCH = 5000
COMMON_EN = ["the", "to", "and", "a", "of", "in", "is", "it", "you", "that", "for", "on", "we", "this", "with", "be", "are", "have", "not", "at", "was", "but", "they", "what", "all", "can", "so", "if", "do", "about", "just", "from", "one", "there", "up", "my", "out", "like", "get", "how", "now", "when"]
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "be", "da", "fe", "gi", "ho", "ju", "ki", "la", "mo", "nu", "pe", "qu", "ri", "se", "ti", "vo", "wa", "xe", "yo", "zu"]
HANZI = ("的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面"
         "而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把"
         "性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质")
DEPLOY = ["deploy", "deployed", "deployment", "deploying"]
RARE = "xylophone"


def vocabulary(rng: random.Random) -> tuple[list[str], list[float], list[str], list[float]]:
    made = {rng.choice(SYLLABLES) + rng.choice(SYLLABLES) + rng.choice(SYLLABLES)[: rng.randint(0, 2)]
            for _ in range(40000)}
    en = COMMON_EN + sorted(made - set(COMMON_EN))[:20000]
    en[200:200] = DEPLOY
    zh = ["我们", "咖啡", "会议", "今天", "明天"] + sorted({rng.choice(HANZI) + rng.choice(HANZI) for _ in range(3000)})
    zipf = lambda n: [1 / (k + 1) ** 1.07 for k in range(n)]  # noqa: E731
    return en, _cum(zipf(len(en))), zh, _cum(zipf(len(zh)))


def _cum(weights: list[float]) -> list[float]:
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


def texts(n: int, seed: int = 7) -> list[str]:
    """70 % English, 20 % Chinese, 10 % both; 4-20 words; RARE in exactly 20 of them."""
    rng = random.Random(seed)
    en, en_w, zh, zh_w = vocabulary(rng)
    out = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.7:
            out.append(" ".join(rng.choices(en, cum_weights=en_w, k=rng.randint(4, 20))))
        elif kind < 0.9:
            out.append("".join(rng.choices(zh, cum_weights=zh_w, k=rng.randint(3, 10))))
        else:
            out.append(" ".join(rng.choices(en, cum_weights=en_w, k=rng.randint(2, 8)))
                       + " " + "".join(rng.choices(zh, cum_weights=zh_w, k=rng.randint(2, 5))))
    for i in rng.sample(range(n), min(20, n)):
        out[i] += f" {RARE}"
    return out


def plan(n: int, seed: int = 11) -> tuple[list[list[int]], list[tuple[int, int]]]:
    """Room members (user indexes) and each message's (room index, sender index)."""
    rng = random.Random(seed)
    members = [rng.sample(range(1, USERS), MEMBERS - 1) for _ in range(ROOMS)]
    for k in range(JOINED):  # user 0, the searcher, is in 50 rooms
        members[k].append(0)
    return members, [(r, rng.choice(members[r])) for r in (rng.randrange(ROOMS) for _ in range(n))]


SETUP = [
    "INSERT INTO users (id, username, username_lower, display_name, password_hash, is_admin, disabled, created_at) "
    "VALUES ({p}, {p}, {p}, {p}, 'x', false, false, 0)",
    "INSERT INTO rooms (id, kind, name, topic, visibility, archived, created_at, creator_id, last_seq) "
    "VALUES ({p}, 'room', {p}, '', 'public', false, 0, 1, 0)",
    "INSERT INTO members (room_id, user_id, role, state, read_seq, joined_seq, updated_at, left_seq) "
    "VALUES ({p}, {p}, {p}, 'joined', 0, 0, 0, 0)",
]


def setup_rows(members: list[list[int]]) -> list[list[tuple[Any, ...]]]:
    users = [(u + 1, f"user{u}", f"user{u}", f"User {u}") for u in range(USERS)]
    rooms = [(r + 1, f"room {r}") for r in range(ROOMS)]
    rows = [(r + 1, u + 1, int(Role.MEMBER)) for r, ms in enumerate(members) for u in ms]
    return [users, rooms, rows]


def drafts(all_texts: list[str], placed: list[tuple[int, int]], start: int, end: int) -> list[Draft]:
    return [Draft(placed[i][0] + 1, placed[i][1] + 1, EventType.MESSAGE, {"text": all_texts[i]})
            for i in range(start, end)]


T0 = 1_735_689_600_000  # 2025-01-01; one batch a minute


def load_sqlite(path: str, all_texts: list[str], members: list[list[int]], placed: list[tuple[int, int]]) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    for sql, rows in zip(SETUP, setup_rows(members), strict=True):
        conn.executemany(sql.format(p="?").replace("false", "0"), rows)
    conn.execute("COMMIT")
    for k, start in enumerate(range(0, len(all_texts), BATCH)):
        conn.execute("BEGIN")
        run_sqlite(conn, writes("sqlite", drafts(all_texts, placed, start, start + BATCH), T0 + k * 60_000))
        conn.execute("COMMIT")
        _progress(start + BATCH, len(all_texts))
    conn.execute("ANALYZE")
    conn.close()


async def load_postgres(url: str, all_texts: list[str], members: list[list[int]],
                        placed: list[tuple[int, int]]) -> None:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        async with conn.transaction():
            for sql, rows in zip(SETUP, setup_rows(members), strict=True):
                n = sql.count("{p}")
                await conn.executemany(sql.format(p="{}").format(*(f"${i}" for i in range(1, n + 1))), rows)
            await conn.execute("SELECT setval('users_id_seq', $1); SELECT setval('rooms_id_seq', $2)"
                               .replace("$1", str(USERS)).replace("$2", str(ROOMS)))
        for k, start in enumerate(range(0, len(all_texts), BATCH)):
            async with conn.transaction():
                await run_asyncpg(conn, writes("postgresql", drafts(all_texts, placed, start, start + BATCH),
                                               T0 + k * 60_000))
            _progress(start + BATCH, len(all_texts))
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


def _progress(done: int, total: int) -> None:
    if done % 100_000 < BATCH:
        print(f"  loaded {min(done, total):,} messages", file=sys.stderr)


def queries(members: list[list[int]]) -> dict[str, dict[str, Any]]:
    return {
        "common word (the)": {"q": "the"},
        f"rare word ({RARE})": {"q": RARE},
        "prefix (deplo)": {"q": "deplo"},
        "two words (deploy the)": {"q": "deploy the"},
        "CJK bigram (咖啡)": {"q": "咖啡"},
        "CJK common (我们)": {"q": "我们"},
        "CJK 3 chars (我们的)": {"q": "我们的"},
        "room filter (the, room=3)": {"q": "the", "room_id": 3},
        "by user (the, from=user)": {"q": "the", "sender": f"user{members[0][0]}"},
        "short prefix (ka)": {"q": "ka"},
    }


async def measure(url: str, members: list[list[int]], repeats: int) -> list[tuple[str, list[float], int]]:
    ctx = build(Settings(database_url=url, rate_limit_burst=1e9, rate_limit_per_sec=1e9))
    me = User(1, "user0", "User 0", False, False, 0)
    out = []
    try:
        for name, kw in queries(members).items():
            await ctx.search.search(me, **kw)  # warm the cache and the pool
            times, hits = [], 0
            for _ in range(repeats):
                t0 = time.perf_counter()
                found = await ctx.search.search(me, **kw)
                times.append((time.perf_counter() - t0) * 1000)
                hits = len(found["hits"])
            out.append((name, sorted(times), hits))
    finally:
        await ctx.db.close()
    return out


def report(url: str, n: int, load_s: float | None, results: list[tuple[str, list[float], int]]) -> None:
    kind = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    print(f"\n{kind}, {n:,} messages" + (f", loaded in {load_s:.0f} s" if load_s else "")
          + "; searcher in 50 of 1,000 rooms; limit 20; milliseconds")
    print(f"{'query':34} {'hits':>4} {'p50':>8} {'p99':>8} {'max':>8}")
    everything: list[float] = []
    for name, times, hits in results:
        everything += times
        print(f"{name:34} {hits:>4} {statistics.median(times):8.1f} {percentile(times, 99):8.1f} {times[-1]:8.1f}")
    everything.sort()
    print(f"{'all queries':34} {'':>4} {statistics.median(everything):8.1f} {percentile(everything, 99):8.1f} "
          f"{everything[-1]:8.1f}")


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-N", "--messages", type=int, default=1_000_000)
    p.add_argument("--database-url", help="postgresql://... (created, loaded and dropped); default SQLite")
    p.add_argument("--repeats", type=int, default=50, help="timed runs per query")
    p.add_argument("--keep", action="store_true", help="keep the database afterwards")
    p.add_argument("--reuse", action="store_true", help="search a database kept by --keep, without loading")
    p.add_argument("--sqlite-path", default=None, help="SQLite file (default: a temporary one)")
    args = p.parse_args()
    members, placed = plan(args.messages)
    scratch = None
    tmp = None
    if args.database_url:
        url = args.database_url
        scratch = ScratchPostgres(url, keep=args.keep)
        if not args.reuse:
            scratch.create()
    else:
        if args.sqlite_path is None:
            tmp = tempfile.TemporaryDirectory(prefix="parley-search-")
        path = args.sqlite_path or str(Path(tmp.name) / "parley.db")  # type: ignore[union-attr]
        url = f"sqlite:///{path}"
    try:
        load_s = None
        if not args.reuse:
            await migrate.upgrade(url)
            t0 = time.monotonic()
            all_texts = texts(args.messages)
            if scratch is None:
                await asyncio.to_thread(load_sqlite, path, all_texts, members, placed)
            else:
                await load_postgres(url, all_texts, members, placed)
            load_s = time.monotonic() - t0
        report(url, args.messages, load_s, await measure(url, members, args.repeats))
    finally:
        if scratch is not None:
            scratch.drop()


if __name__ == "__main__":
    asyncio.run(main())
