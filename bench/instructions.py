"""Instructions per ingested message, counted by valgrind's callgrind: a measure that does not move
with the machine's load, for comparing two versions of the send path when wall-clock CPU is too noisy.

The server runs under `valgrind --tool=callgrind`. Users, rooms and sessions are made first by a normal
server on the same SQLite file (argon2 under valgrind would take minutes); then the counters are
zeroed once every WebSocket is open, each user sends exactly --messages messages into its room (rooms
of --members, --in-flight unacknowledged at a time, as in ingest.py), and the counters are dumped when
the last ack arrives. The figure is the instructions executed by the whole server process (every
thread) between the two points, divided by the messages. Batches are larger here than in a real run
(the server is ~50x slower than its clients), so per-batch costs weigh less than in ingest.py.

    .venv/bin/python bench/instructions.py
    PYTHONPATH=/path/to/other/tree/src .venv/bin/python bench/instructions.py   # another version
    .venv/bin/python bench/instructions.py --prose   # words to index (English and Chinese), as ingest.py --prose
    .venv/bin/python bench/instructions.py --fanout 100   # per delivery instead: one room, R receivers

With --fanout R, the set-up is fanout.py's (one sender, R receivers in one room); the sender sends
--messages messages, --in-flight at a time (the next on each ack), and the counters are dumped when
every receiver has every message. The figure is then per delivery (messages x R), the sender's own
send path included, as in fanout.py's server CPU per delivery.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import _common as c
import _wsgen as g
import fanout
import ingest

ACK_RE = re.compile(rb'"type":\s*"ack"')


def callgrind_total(path: str) -> int:
    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    sys.exit(f"no totals in {path}")


async def drive(args, ws_url: str, tokens: list[str], homes: list[int], pid: int, out: str) -> int:
    remaining = {u: args.messages for u in range(len(tokens))}
    acked = 0
    done = asyncio.get_running_loop().create_future()
    conns: list[g.Conn] = []
    seq = iter(range(10**9))
    text = "prose" if args.prose else args.text

    def send(u: int) -> None:
        remaining[u] -= 1
        idx = next(seq)
        conns[u].send(b'{"type":"send","room":%d,"text":"%s","client_msg_id":"i%d"}'
                      % (homes[u], ingest.message_text(idx, text), idx))

    def handler(u: int):
        def on_payload(data: bytes) -> None:
            nonlocal acked
            if ACK_RE.search(data) is not None:
                acked += 1
                if remaining[u] > 0:
                    send(u)
                if acked == total and not done.done():
                    done.set_result(None)
            elif b'"error"' in data[:40]:
                done.set_exception(RuntimeError(data[:300]))
        return on_payload

    total = args.messages * len(tokens)
    conns += await g.connect_many([f"{ws_url}?token={t}" for t in tokens], lambda i: g.Conn(handler(i)), 8)
    await asyncio.sleep(2)  # let presence and the first reads settle before zeroing
    subprocess.run(["callgrind_control", "-z", str(pid)], check=True, capture_output=True)
    for _ in range(args.in_flight):
        for u in range(len(tokens)):
            if remaining[u] > 0:
                send(u)
    await asyncio.wait_for(done, timeout=args.timeout)
    subprocess.run(["callgrind_control", "-d", str(pid)], check=True, capture_output=True)
    for conn in conns:
        conn.close()
    return total


async def drive_fanout(args, ws_url: str, sender: str, receivers: list[str], pid: int) -> int:
    """Send --messages into the room, --in-flight at a time; returns the deliveries counted."""
    total = args.messages * len(receivers)
    got = 0
    sent = 0
    done = asyncio.get_running_loop().create_future()

    def on_receiver(data: bytes) -> None:
        nonlocal got
        if b'"type":"message"' in data:
            got += 1
            if got == total and not done.done():
                done.set_result(None)

    def on_sender(data: bytes) -> None:
        if ACK_RE.search(data) is not None:
            send()
        elif b'"error"' in data[:40] and not done.done():
            done.set_exception(RuntimeError(data[:300]))

    conns = await g.connect_many([f"{ws_url}?token={t}" for t in receivers], lambda i: g.Conn(on_receiver), 8)
    (out,) = await g.connect_many([f"{ws_url}?token={sender}"], lambda i: g.Conn(on_sender), 1)
    room = args.fanout_room

    def send() -> None:
        nonlocal sent
        if sent < args.messages:
            sent += 1
            out.send(b'{"type":"send","room":%d,"text":"%s","client_msg_id":"f%d"}'
                     % (room, ingest.message_text(sent, args.text), sent))

    await asyncio.sleep(2)
    subprocess.run(["callgrind_control", "-z", str(pid)], check=True, capture_output=True)
    for _ in range(args.in_flight):
        send()
    await asyncio.wait_for(done, timeout=args.timeout)
    subprocess.run(["callgrind_control", "-d", str(pid)], check=True, capture_output=True)
    for conn in [*conns, out]:
        conn.close()
    return total


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--users", type=int, default=30)
    p.add_argument("--rooms", type=int, default=15)
    p.add_argument("--members", type=int, default=3)
    p.add_argument("--in-flight", type=int, default=2)
    p.add_argument("--messages", type=int, default=40, help="messages per user")
    p.add_argument("--text", choices=("chat", "prose", "filler"), default="chat",
                   help="message text (bench/ingest.py message_text); filler is held as spam unless PARLEY_SPAM=off")
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--ready-timeout", type=float, default=300,
                   help="seconds the server under valgrind may take to listen (more on a loaded machine)")
    p.add_argument("--prose", action="store_true", help="the same as --text prose")
    p.add_argument("--fanout", type=int, default=0, metavar="R",
                   help="per delivery: one room of R receivers and a sender (fanout.py's set-up)")
    args = p.parse_args()
    if not shutil.which("valgrind"):
        sys.exit("valgrind is not installed (Debian: valgrind)")
    tmp = tempfile.mkdtemp(prefix="parley-instr-")
    db = f"sqlite:///{tmp}/parley.db"
    env = {**os.environ, **c.RATE_LIMIT_ENV, "PARLEY_DATABASE_URL": db}
    exe = c.parley_exe()
    subprocess.run([*exe, "db", "upgrade", "--database-url", db], env=env, check=True, capture_output=True)
    port = c.free_port()
    serve = ["serve", "--host", "127.0.0.1", "--port", str(port), "--database-url", db]
    base = f"http://127.0.0.1:{port}"

    plain = subprocess.Popen([*exe, *serve], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    srv = c.Server(base_url=base, proc=plain)
    srv.wait_ready(port, timeout=args.ready_timeout)  # a new database: the spam filter trains its starter model first
    if args.fanout:
        args.fanout_room, sender, receivers = c.run(fanout.setup(base, args.fanout))
    else:
        ns = argparse.Namespace(users=args.users, rooms=args.rooms, members=args.members)
        tokens, homes = c.run(ingest.setup(ns, base))
    plain.terminate()
    plain.wait()

    out = os.path.join(tmp, "callgrind.out")
    vg = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}.%p", "--dump-instr=no",
         sys.executable, "-m", "parley", *serve],
        env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "valgrind.log"), "wb"),  # noqa: SIM115 - lives as long as valgrind
    )
    srv = c.Server(base_url=base, proc=vg)
    t0 = time.monotonic()
    try:  # valgrind is stopped whatever happens, a server that never listened included
        srv.wait_ready(port, timeout=args.ready_timeout)
        t0 = time.monotonic()
        if args.fanout:
            n = c.run(drive_fanout(args, srv.ws_url, sender, receivers, vg.pid))
        else:
            n = c.run(drive(args, srv.ws_url, tokens, homes, vg.pid, out))
    finally:
        vg.terminate()
        vg.wait()
    dumps = sorted(glob.glob(f"{out}.{vg.pid}.*"), key=lambda s: int(s.rsplit(".", 1)[1]))
    if not dumps:
        sys.exit(f"no callgrind dump in {tmp}")
    ir = callgrind_total(dumps[0])
    if args.fanout:
        print(f"instructions fan-out R={args.fanout}, {args.messages} messages, {args.in_flight} in flight, "
              f"{n} deliveries ({time.monotonic() - t0:.0f} s under valgrind)")
        print(f"  {ir / n:,.0f} instructions per delivery  (total {ir:,}; dump {dumps[0]})")
        return
    print(f"instructions {args.users} users, rooms of {args.members}, {args.in_flight} in flight, "
          f"{n} messages ({time.monotonic() - t0:.0f} s under valgrind)")
    print(f"  {ir / n:,.0f} instructions per message  (total {ir:,}; dump {dumps[0]})")


if __name__ == "__main__":
    main()
