"""Opening a big room: how long the server takes to answer the pages a client asks for.

Seeds one room with N messages (10,000 by default) over WebSocket, then times, over plain HTTP on
loopback, the request the web client makes when a room opens (`GET /rooms/{id}/messages?limit=50`,
the latest page) and the requests it makes while scrolling up (`?before=S&limit=50` at random
depths). Prints p50/p99/max milliseconds and server CPU per request; then pages/s with
`--concurrency` requests in flight (latest and older pages alternating), and the server CPU per
page there. Also prints the bytes of JavaScript and CSS the first screen loads (everything
`index.html` pulls in, transitively).

    .venv/bin/python bench/history.py [-N 10000] [--requests 300] [--concurrency 8] [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Api, CpuMeter, Server, add_server_args, emit_json, percentile, run, run_id  # noqa: E402

STATIC = Path(__file__).resolve().parent.parent / "src" / "parley" / "static"


def first_screen_bytes() -> tuple[int, int]:
    """Sum of index.html's stylesheets and of its module graph (static imports, followed)."""
    index = (STATIC / "index.html").read_text()
    css = sum((STATIC / m.removeprefix("/static/")).stat().st_size
              for m in re.findall(r'href="(/static/[^"]+\.css)"', index))
    seen: set[Path] = set()
    todo = [STATIC / m.removeprefix("/static/") for m in re.findall(r'src="(/static/[^"]+\.js)"', index)]
    while todo:
        path = todo.pop().resolve()
        if path in seen or not path.exists():
            continue
        seen.add(path)
        for ref in re.findall(r'(?:import|from)\s*\(?\s*["\'](\.{1,2}/[^"\']+)["\']', path.read_text()):
            todo.append(path.parent / ref)
    return sum(p.stat().st_size for p in seen), css


async def seed(server: Server, api: Api, count: int) -> tuple[str, int]:
    tag = run_id()
    _, token = await api.register(f"hist{tag}")
    room = await api.create_room(token, f"history {tag}")
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{server.ws_url}?token={token}") as ws:
        await ws.receive_json()  # hello
        t0, sent, acked = time.monotonic(), 0, 0
        while acked < count:
            while sent < count and sent - acked < 200:
                await ws.send_json({"type": "send", "room": room, "client_msg_id": f"h{sent}",
                                    "text": f"message {sent}: " + "lorem ipsum dolor sit amet " * 3})
                sent += 1
            frame = await ws.receive_json()
            acked += frame["type"] == "ack"
        print(f"  seeded {count} messages in {time.monotonic() - t0:.1f} s", file=sys.stderr)
    return token, room


async def measure(server: Server, args: argparse.Namespace) -> dict:
    api = Api(server.base_url)
    try:
        token, room = await seed(server, api, args.N)
        headers = {"Authorization": f"Bearer {token}"}
        base = f"{server.base_url}/api/v1/rooms/{room}/messages"
        async with aiohttp.ClientSession(headers=headers) as http:
            async def timed(url: str) -> float:
                t = time.perf_counter()
                async with http.get(url) as r:
                    body = await r.json()
                    assert r.status == 200 and len(body["messages"]) == 50, body
                return (time.perf_counter() - t) * 1000

            for _ in range(20):
                await timed(base + "?limit=50")  # warm-up
            meter = CpuMeter(server.cpu_pids(), [])
            start = meter.snap()
            latest = sorted([await timed(base + "?limit=50") for _ in range(args.requests)])
            cpu_latest = CpuMeter.diff(start, meter.snap())["server"]
            start = meter.snap()
            depths = [random.randint(60, args.N) for _ in range(args.requests)]
            older = sorted([await timed(f"{base}?before={d}&limit=50") for d in depths])
            cpu_older = CpuMeter.diff(start, meter.snap())["server"]
            urls = [base + "?limit=50" if i % 2 else f"{base}?before={random.randint(60, args.N)}&limit=50"
                    for i in range(args.requests * 2)]

            async def worker() -> None:
                while urls:
                    await timed(urls.pop())

            start = meter.snap()
            await asyncio.gather(*(worker() for _ in range(args.concurrency)))
            loaded = CpuMeter.diff(start, meter.snap())
    finally:
        await api.close()
    js, css = first_screen_bytes()
    return {
        "bench": "history", "N": args.N, "requests": args.requests,
        "latest_p50_ms": percentile(latest, 50), "latest_p99_ms": percentile(latest, 99), "latest_max_ms": latest[-1],
        "older_p50_ms": percentile(older, 50), "older_p99_ms": percentile(older, 99),
        "server_cpu_ms_per_latest": cpu_latest / args.requests * 1000,
        "server_cpu_ms_per_older": cpu_older / args.requests * 1000,
        "concurrency": args.concurrency, "pages_per_s": args.requests * 2 / loaded["t"],
        "server_cpu_ms_per_page_loaded": loaded["server"] / (args.requests * 2) * 1000,
        "other_cpu_share": loaded["other"] / loaded["t"],
        "first_screen_js_bytes": js, "first_screen_css_bytes": css,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-N", type=int, default=10_000, help="messages in the room")
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--concurrency", type=int, default=8, help="requests in flight for the pages/s figure")
    add_server_args(p)
    args = p.parse_args()
    server = Server.from_args(args)
    try:
        result = run(measure(server, args))
    finally:
        server.stop()
    print(f"history N={result['N']} db={'postgresql' if 'postgres' in (args.database_url or '') else 'sqlite'}")
    print(f"  latest page (room opens)  p50 {result['latest_p50_ms']:.1f} ms  p99 {result['latest_p99_ms']:.1f} ms"
          f"  max {result['latest_max_ms']:.1f} ms  server CPU {result['server_cpu_ms_per_latest']:.2f} ms/request")
    print(f"  older page (scrolling)    p50 {result['older_p50_ms']:.1f} ms  p99 {result['older_p99_ms']:.1f} ms"
          f"  server CPU {result['server_cpu_ms_per_older']:.2f} ms/request")
    print(f"  {result['concurrency']} in flight          {result['pages_per_s']:.0f} pages/s"
          f"  server CPU {result['server_cpu_ms_per_page_loaded']:.2f} ms/page"
          f"  (other processes {result['other_cpu_share'] * 100:.0f} % of a core)")
    total = result["first_screen_js_bytes"] + result["first_screen_css_bytes"]
    print(f"  first screen: {result['first_screen_js_bytes'] / 1024:.1f} KB JS + "
          f"{result['first_screen_css_bytes'] / 1024:.1f} KB CSS = {total / 1024:.1f} KB uncompressed")
    emit_json(args.json, result)


if __name__ == "__main__":
    main()
