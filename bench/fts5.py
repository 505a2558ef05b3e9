"""What SQLite's FTS5 index costs per message, by table option: the index rows alone, no server.

Inserts N message bodies (as the send batch's writer makes them: `store.events.index_body`, words
then the room and sender facets) into a fresh FTS5 table in transactions of --batch, for each
variant of the table, and prints the process CPU per message. `--mode chat` uses ingest.py's chat
lines (few distinct words), `--mode prose` its --prose line, `--mode random` 14 words a message from a 30,000-word random
vocabulary (many distinct words, as a big community's log). Then, with --queries, times a few
searches (50 room facets ORed, newest 21 first) on each table. How to read it: docs/performance.md.

    .venv/bin/python bench/fts5.py                          # 40,000 chat lines, batches of 20
    .venv/bin/python bench/fts5.py --mode random -N 200000 --queries
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sqlite3
import string
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import message_text  # noqa: E402
from parley.core import search  # noqa: E402
from parley.store.events import index_body  # noqa: E402

VARIANTS = {
    "prefix='2 3', detail=none (0021)": "prefix='2 3', detail=none",
    "prefix='2 3' (before 0021)": "prefix='2 3'",
    "prefix='3'": "prefix='3'",
    "prefix='2'": "prefix='2'",
    "no prefix index": "",
}
QUERIES = ["the", "ka", "pre", "review", "懒狗"]


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def bodies(n: int, mode: str) -> list[str]:
    rnd = random.Random(1)
    if mode in ("chat", "prose"):
        texts = [message_text(i, mode).decode() for i in range(n)]
    else:
        words = ["".join(rnd.choice(string.ascii_lowercase) for _ in range(rnd.randint(2, 9))) for _ in range(30000)]
        words[:3] = ["the", "then", "there"]
        texts = [" ".join(rnd.choice(words) for _ in range(14)) + (" 懒狗" if i % 7 == 0 else "") for i in range(n)]
    out = [index_body("sqlite", t, rnd.randint(1, 1000), rnd.randint(1, 500)) for t in texts]
    return [b for b in out if b is not None]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-N", type=int, default=40000)
    p.add_argument("--batch", type=int, default=20, help="messages a transaction (the send batch: ~20)")
    p.add_argument("--mode", choices=("chat", "prose", "random"), default="chat")
    p.add_argument("--queries", action="store_true")
    args = p.parse_args()
    rows = bodies(args.N, args.mode)
    print(f"{len(rows):,} bodies ({args.mode}), transactions of {args.batch}, load {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="parley-fts5-") as tmp:
        for name, option in {"no index (table only)": None, **VARIANTS}.items():
            conn = sqlite3.connect(os.path.join(tmp, f"{abs(hash(name))}.db"), isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            table = "CREATE TABLE s (rowid INTEGER PRIMARY KEY, body TEXT)" if option is None else \
                f"CREATE VIRTUAL TABLE s USING fts5(body, tokenize='ascii'{', ' + option if option else ''})"
            conn.execute(table)
            start = cpu()
            for first in range(0, len(rows), args.batch):
                conn.execute("BEGIN")
                conn.executemany("INSERT INTO s (rowid, body) VALUES (?, ?)",
                                 [(i + 1, rows[i]) for i in range(first, min(first + args.batch, len(rows)))])
                conn.execute("COMMIT")
            line = f"  {name:34s} {(cpu() - start) / len(rows) * 1e6:6.1f} µs CPU a message"
            if args.queries and option is not None:
                facets = [search.room_facet(r) for r in range(1, 51)]
                timings = []
                for q in QUERIES:
                    match = search.fts5_query(search.parse(q), facets)
                    t0 = time.perf_counter()
                    for _ in range(5):
                        conn.execute("SELECT rowid FROM s WHERE s MATCH ? ORDER BY rowid DESC LIMIT 21", (match,)).fetchall()
                    timings.append(f"{q} {(time.perf_counter() - t0) / 5 * 1000:.1f}")
                line += "   query ms: " + ", ".join(timings)
            print(line, flush=True)
            conn.close()


if __name__ == "__main__":
    main()
