"""Ingest: many users sending into many small rooms, each keeping a few messages in flight.

Counts `ack`s (an ack means the message is committed and has its seq) in a fixed window after a warm-up,
reports persisted messages/s, send-to-ack latency and the server's CPU per message, and checks at the
end that the database holds exactly as many messages as were acknowledged.
How to run: bench/README.md.

    .venv/bin/python bench/ingest.py
    .venv/bin/python bench/ingest.py --database-url postgresql://postgres@127.0.0.1:5432/parley_bench
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time

import _common as c
import _wsgen as g

ACK_RE = re.compile(rb'"type":\s*"ack"')
PROSE = "notes: the quick brown fox jumps over 懒狗 while we review cost and latency".encode()[:89].ljust(89)
# The default text: lines of ordinary chat, which the spam filter (on by default) delivers. The
# earlier default, a 10-digit number and 89 times "y", reads as spam to it (a long number, a
# repeated character) and was held for review: `--filler` still sends it, with PARLEY_SPAM=off.
CHAT = [b"morning all, I pushed the fix for the login redirect, please pull before testing the new build today",
        b"can we move the retro to thursday afternoon? half the team is at the customer workshop on wednesday",
        b"the slides from the lecture are in the shared drive, the exercises for chapter seven are at the end",
        "大家好，明天的例会改到十点半，请提前看一下会议纪要和上周的进度，有问题在群里说".encode()]


def message_text(idx: int, mode: str = "chat") -> bytes:
    """100 bytes (a character may be cut at the end of Chinese), unique per message."""
    if mode == "filler":
        return b"%010d " % idx + b"y" * 89
    body = PROSE if mode == "prose" else CHAT[idx % len(CHAT)]
    head = b"#%d " % idx
    return (head + body)[:100].decode("utf-8", "ignore").encode()
ID_RE = re.compile(rb'"client_msg_id":\s*"i(\d+)"')


def plan_rooms(users: int, rooms: int, members: int) -> tuple[list[list[int]], list[int]]:
    """Room k holds `members` consecutive users starting at k*step; each user sends into its first room."""
    step = max(1, users // rooms)
    room_members = [sorted({(k * step + j) % users for j in range(members)}) for k in range(rooms)]
    home = [-1] * users
    for k, ms in enumerate(room_members):
        for u in ms:
            if home[u] < 0:
                home[u] = k
    for u in range(users):
        if home[u] < 0:  # fewer seats than users: put the rest in a room of their own choice
            home[u] = u % rooms
            room_members[home[u]].append(u)
    return room_members, home


async def setup(args, base_url: str) -> tuple[list[str], list[int]]:
    rid = c.run_id()
    room_members, home = plan_rooms(args.users, args.rooms, args.members)
    api = c.Api(base_url)
    try:
        users = await api.register_many([f"i{rid}u{i}" for i in range(args.users)])
        tokens = [tok for _uid, tok in users]
        room_ids = await asyncio.gather(
            *(api.create_room(tokens[ms[0]], f"ingest {rid} {k}") for k, ms in enumerate(room_members))
        )
        await asyncio.gather(
            *(api.join(tokens[u], room_ids[k]) for k, ms in enumerate(room_members) for u in ms[1:])
        )
    finally:
        await api.close()
    print(f"  {args.rooms} rooms of {args.members} members ready", file=sys.stderr)
    return tokens, [room_ids[h] for h in home]


class Ingest:
    def __init__(self, args, homes: list[int]):
        self.args, self.homes = args, homes
        self.mode = "prose" if args.prose else "filler" if args.filler else "chat"
        self.conns: list[g.Conn] = []
        self.pending: dict[int, tuple[int, float]] = {}  # idx -> (user, sent_at)
        self.next_idx = 0
        self.sending = False
        self.measuring = False
        self.sent = self.acked = self.win_acked = self.delivered = self.win_delivered = 0
        self.latencies: list[float] = []
        self.errors: list[bytes] = []
        self.drops = 0
        self.last_progress = time.monotonic()

    def handler(self, user: int):
        def on_payload(data: bytes) -> None:
            if ACK_RE.search(data) is not None:
                self.on_ack(data)
            elif b'"message"' in data:
                self.delivered += 1
                if self.measuring:
                    self.win_delivered += 1
            elif b'"error"' in data[:40]:
                self.errors.append(data)

        return on_payload

    def on_ack(self, data: bytes) -> None:
        m = ID_RE.search(data)
        entry = self.pending.pop(int(m[1]), None) if m else None
        if entry is None:
            return
        user, sent_at = entry
        self.acked += 1
        self.last_progress = now = time.monotonic()
        if self.measuring:
            self.win_acked += 1
            self.latencies.append(now - sent_at)
        if self.sending:
            self.send(user)

    def send(self, user: int) -> None:
        idx = self.next_idx
        self.next_idx += 1
        text = message_text(idx, self.mode)
        frame = b'{"type":"send","room":%d,"text":"%s","client_msg_id":"i%d"}' % (self.homes[user], text, idx)
        self.pending[idx] = (user, time.monotonic())
        self.sent += 1
        self.conns[user].send(frame)


async def measure(args, server: c.Server, tokens: list[str], homes: list[int]) -> dict:
    bench = Ingest(args, homes)
    t0 = time.monotonic()

    def drop(_conn: g.Conn) -> None:
        bench.drops += 1

    bench.conns = await g.connect_many(
        [f"{server.ws_url}?token={t}" for t in tokens], lambda i: g.Conn(bench.handler(i), on_drop=drop)
    )
    print(f"  {len(tokens)} WebSockets open in {time.monotonic() - t0:.1f} s", file=sys.stderr)
    await asyncio.sleep(args.settle)

    pg = c.pids_named("postgres") if server.database_url.startswith("postgres") else []
    meter = c.CpuMeter(server.cpu_pids(), [os.getpid()], {"postgres": pg})
    loop = asyncio.get_running_loop()
    marks: dict[str, dict] = {}
    done = loop.create_future()

    def start_window() -> None:
        bench.measuring = True
        marks["a"] = meter.snap()

    def end_window() -> None:
        marks["b"] = meter.snap()
        bench.measuring = bench.sending = False
        done.set_result(None)

    bench.sending = True
    bench.last_progress = time.monotonic()
    for _ in range(args.in_flight):
        for user in range(len(tokens)):
            bench.send(user)
    loop.call_later(args.warmup, start_window)
    loop.call_later(args.warmup + args.window, end_window)
    while not done.done():
        await asyncio.sleep(0.25)
        if bench.errors:
            sys.exit(f"ABORTED: the server answered with errors: {bench.errors[:3]}")
        if time.monotonic() - bench.last_progress > args.stall:
            sys.exit(f"ABORTED: no ack for {args.stall:.0f} s; {len(bench.pending)} in flight")
    deadline = time.monotonic() + 15
    while bench.pending and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    for conn in bench.conns:
        conn.close()
    d = c.CpuMeter.diff(marks["a"], marks["b"])
    lat = sorted(bench.latencies)
    n = bench.win_acked
    return {
        "bench": "ingest",
        "users": args.users,
        "rooms": args.rooms,
        "members": args.members,
        "W": args.in_flight,
        "window_s": round(d["t"], 3),
        "messages": n,
        "messages_per_s": n / d["t"],
        "deliveries_per_s": bench.win_delivered / d["t"],
        "p50_ms": c.percentile(lat, 50) * 1000,
        "p99_ms": c.percentile(lat, 99) * 1000,
        "server_cpu_us_per_msg": d["server"] / n * 1e6 if n else float("nan"),
        "postgres_cpu_us_per_msg": d["postgres"] / n * 1e6 if n and pg else None,
        "server_core_pct": d["server"] / d["t"] * 100,
        "loop_core_pct": d["loop"] / d["t"] * 100,
        "gen_core_pct": d["gen"] / d["t"] * 100,
        "machine_busy_pct": d["machine_util"] * 100,
        "other_core_pct": d["other"] / d["t"] * 100,
        "sent": bench.sent,
        "acked": bench.acked,
        "unacked": len(bench.pending),
        "drops": bench.drops,
        "cpu_pids": meter.server_pids,
    }


def report(r: dict, server: c.Server) -> None:
    db = server.database_url.split(":", 1)[0] if server.database_url else "?"
    print(
        f"ingest users={r['users']} rooms={r['rooms']}x{r['members']} W={r['W']}/user "
        f"window={r['window_s']:.1f}s target={server.base_url} db={db}"
    )
    print(
        f"  persisted msgs/s    {r['messages_per_s']:,.0f}  ({r['messages']} acks in the window; "
        f"{r['deliveries_per_s']:,.0f} deliveries/s to members)"
    )
    print(f"  latency send->ack   p50 {r['p50_ms']:.1f} ms  p99 {r['p99_ms']:.1f} ms")
    line = (
        f"{r['server_cpu_us_per_msg']:.0f} us/message ({r['server_core_pct']:.0f}% of a core, "
        f"event-loop thread {r['loop_core_pct']:.0f}%)"
    )
    if r["postgres_cpu_us_per_msg"] is not None:
        line += f"; PostgreSQL backends {r['postgres_cpu_us_per_msg']:.0f} us/message"
    print(f"  server CPU          {line}  pids {r['cpu_pids']}")
    print(
        f"  generator CPU       {r['gen_core_pct']:.0f}% of a core; machine busy {r['machine_busy_pct']:.0f}% "
        f"of {os.cpu_count()} cores"
    )
    print(
        f"  other processes     {r['other_core_pct']:.0f}% of a core (should be ~0: other load skews the figures)"
    )
    rows = r.get("rows")
    verdict = (
        "n/a (database not visible)"
        if rows is None
        else ("OK" if rows == r["acked"] else f"MISMATCH: {rows} rows vs {r['acked']} acks")
    )
    print(f"  database check      sent {r['sent']}, acked {r['acked']}, rows {rows}: {verdict}")
    if r["unacked"] or r["drops"]:
        print(f"  WARNING             unacked={r['unacked']} drops={r['drops']}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-U", "--users", type=int, default=200)
    p.add_argument("--rooms", type=int, default=100)
    p.add_argument("--members", type=int, default=3, help="members per room")
    p.add_argument("-W", "--in-flight", type=int, default=2, help="messages in flight per user")
    p.add_argument("--window", type=float, default=6.0)
    p.add_argument("--prose", action="store_true", help="message text of words rather than one long token")
    p.add_argument("--filler", action="store_true",
                   help="the text of the figures before issue 11: a number and 89 times y (held as spam unless "
                        "PARLEY_SPAM=off)")
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--settle", type=float, default=1.0)
    p.add_argument("--stall", type=float, default=15.0)
    c.add_server_args(p)
    args = p.parse_args()
    c.guard_signals()
    c.raise_nofile()
    server = c.Server.from_args(args)
    try:
        tokens, homes = c.run(setup(args, server.base_url))
        result = c.run(measure(args, server, tokens, homes))
        if not args.url or args.database_url:
            result["rows"] = server.count_messages()
        report(result, server)
        c.emit_json(args.json, result)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
