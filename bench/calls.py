"""Calls (issue 13): set-up time and the server's signalling cost, with two real Chromium pages.

Starts a server on a fresh SQLite file and Debian's Chromium (headless, fake camera and microphone),
opens two users' pages on their direct chat, then `--calls` times: one starts a video call, the
other accepts it from the ringing dialog, and the callee's page reports the time from the accept
click to the first decoded frame of the caller's video (requestVideoFrameCallback); the caller
hangs up and both wait for `call_ended`. Reports p50/p90 of the set-up time and the server's CPU
seconds (utime + stime) per call over the whole loop: the signalling (start, join, offer, answer,
ICE candidates, leave) and the room-log events, ringing included.

    .venv/bin/python bench/calls.py [--calls 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

from playwright.async_api import Page, async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PASSWORD, Api, CpuMeter, Server, add_server_args, emit_json, percentile, run, run_id  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream", "--autoplay-policy=no-user-gesture-required"]
STATS = "import('/static/views/call.js').then((m) => m.stats())"


async def _page(browser, base: str, username: str, room: int) -> Page:
    context = await browser.new_context(base_url=base, viewport={"width": 1000, "height": 700})
    answer = await context.request.post("/api/v1/auth/login", data={"username": username, "password": PASSWORD},
                                        headers={"X-Requested-With": "parley"})
    assert answer.ok, await answer.text()
    page = await context.new_page()
    page.on("console", lambda m: m.type in ("error", "warning") and print(f"  [{username}] {m.text}", file=sys.stderr))
    page.on("pageerror", lambda e: print(f"  [{username}] page error: {e}", file=sys.stderr))
    await page.goto(f"/#/room/{room}")
    await page.locator('.conn[data-state="connected"]').wait_for()
    await page.locator(f'.room[data-room-id="{room}"] .call-start').wait_for()
    return page


async def _setup_ms(page: Page, timeout: float = 30.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = await page.evaluate(STATS)
        if got and got["setupMs"] is not None and any(p["framesDecoded"] > 0 for p in got["peers"].values()):
            return got["setupMs"]
        await asyncio.sleep(0.05)
    state = await page.locator(".conn").get_attribute("data-state")
    raise RuntimeError(f"no remote video after {timeout} s: {await page.evaluate(STATS)}, socket {state}")


SDP = "v=0\r\n" + "a=candidate-or-codec-line-of-a-typical-offer\r\n" * 70  # ~3.5 KB, an offer's size
CANDIDATE = {"candidate": "candidate:842163049 1 udp 1677729535 203.0.113.7 50123 typ srflx raddr 0.0.0.0 rport 0",
             "sdpMid": "0", "sdpMLineIndex": 0}


async def _signalling_only(srv: Server, api: Api, calls: int, candidates: int) -> dict[str, float]:
    """The same call set-up as the browsers', without browsers: two sockets exchange start, join,
    offer, answer, `candidates` ICE candidates each way, leave, leave; server CPU per call."""
    import aiohttp

    tag = run_id()
    (_, ann), (_, bob) = [await api.register(f"{n}w{tag}") for n in ("ann", "bob")]
    room = (await api.call("POST", "/direct", ann, {"usernames": [f"bobw{tag}"]}))["id"]
    async with aiohttp.ClientSession() as http:
        a = await http.ws_connect(f"{srv.ws_url}?token={ann}")
        b = await http.ws_connect(f"{srv.ws_url}?token={bob}")

        async def until(ws, kind: str) -> dict:
            while True:
                frame = await ws.receive_json(timeout=30)
                if frame["type"] == kind:
                    return frame
                if frame["type"] == "error":
                    raise RuntimeError(frame)

        meter = CpuMeter(srv.cpu_pids(), [os.getpid()])
        start = meter.snap()
        for _ in range(calls):
            await a.send_json({"type": "call_start", "room": room})
            joined = await until(a, "call_joined")
            call, peer_a = joined["call"]["id"], joined["peer"]
            await b.send_json({"type": "call_join", "call": call})
            peer_b = (await until(b, "call_joined"))["peer"]
            await b.send_json({"type": "call_signal", "call": call, "to": peer_a, "kind": "offer", "sdp": SDP})
            await until(a, "call_signal")
            await a.send_json({"type": "call_signal", "call": call, "to": peer_b, "kind": "answer", "sdp": SDP})
            await until(b, "call_signal")
            for _ in range(candidates):
                await a.send_json({"type": "call_signal", "call": call, "to": peer_b, "kind": "ice",
                                   "candidate": CANDIDATE})
                await b.send_json({"type": "call_signal", "call": call, "to": peer_a, "kind": "ice",
                                   "candidate": CANDIDATE})
            for _ in range(candidates):
                await until(a, "call_signal")
                await until(b, "call_signal")
            await b.send_json({"type": "call_leave", "call": call})
            await a.send_json({"type": "call_leave", "call": call})
            await until(a, "call_ended")
            await until(b, "call_ended")
        cost = CpuMeter.diff(start, meter.snap())
        await a.close()
        await b.close()
    return {"ws_calls": calls, "ws_candidates_each_way": candidates,
            "ws_server_cpu_s_per_call": round(cost["server"] / calls, 4),
            "ws_server_loop_s_per_call": round(cost["loop"] / calls, 4), "ws_wall_s": round(cost["t"], 1)}


async def main(args: argparse.Namespace) -> None:
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing: run scripts/test-deps.sh")
    srv = Server.from_args(args)
    api = Api(srv.base_url)
    try:
        tag = run_id()
        (_, ann_token), (_, _) = [await api.register(f"{n}{tag}") for n in ("ann", "bob")]
        room = (await api.call("POST", "/direct", ann_token, {"usernames": [f"bob{tag}"]}))["id"]
        record: dict = {"bench": "calls"}
        if args.ws_calls:
            ws = await _signalling_only(srv, api, args.ws_calls, args.candidates)
            record.update(ws)
            print(f"signalling alone ({ws['ws_calls']} calls over two sockets, offer + answer + "
                  f"{ws['ws_candidates_each_way']} candidates each way): server CPU "
                  f"{ws['ws_server_cpu_s_per_call'] * 1000:.1f} ms per call "
                  f"(event loop {ws['ws_server_loop_s_per_call'] * 1000:.1f} ms), {ws['ws_wall_s']} s")
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            ann = await _page(browser, srv.base_url, f"ann{tag}", room)
            bob = await _page(browser, srv.base_url, f"bob{tag}", room)
            setups: list[float] = []
            meter = CpuMeter(srv.cpu_pids(), [os.getpid()])
            # The server's own idle cost with both pages open (heartbeats, sweeps, pings), to subtract.
            idle_start = meter.snap()
            await asyncio.sleep(args.idle_s)
            idle = CpuMeter.diff(idle_start, meter.snap())
            start = meter.snap()
            for n in range(args.calls):
                await ann.locator(".call-start").click()
                await bob.locator("dialog.call-ring .call-accept").click()
                setups.append(await _setup_ms(bob))
                await ann.locator(".call-hangup").click()
                for page in (ann, bob):
                    await page.locator(".call-view").wait_for(state="detached")
                while (await api.call("GET", f"/rooms/{room}/call", ann_token))["call"] is not None:
                    await asyncio.sleep(0.05)  # the call has ended on the server too
                print(f"call {n + 1}: {setups[-1]:.0f} ms", flush=True)
            cost = CpuMeter.diff(start, meter.snap())
            await browser.close()
        ordered = sorted(setups)
        record |= {"calls": args.calls, "setup_p50_ms": round(percentile(ordered, 50)),
                  "setup_p90_ms": round(percentile(ordered, 90)), "setup_max_ms": round(ordered[-1]),
                  "server_cpu_s_per_call": round(cost["server"] / args.calls, 4),
                  "server_loop_s_per_call": round(cost["loop"] / args.calls, 4),
                  "server_idle_cpu_per_s": round(idle["server"] / idle["t"], 4),
                  "server_net_cpu_s_per_call": round((cost["server"] - idle["server"] / idle["t"] * cost["t"])
                                                     / args.calls, 4),
                  "wall_s": round(cost["t"], 1), "machine_util": round(cost["machine_util"], 2)}
        print(f"\n{args.calls} calls: set-up (accept -> first remote video frame) p50 {record['setup_p50_ms']} ms, "
              f"p90 {record['setup_p90_ms']} ms, max {record['setup_max_ms']} ms")
        print(f"server CPU per call: {record['server_cpu_s_per_call'] * 1000:.1f} ms "
              f"(event loop {record['server_loop_s_per_call'] * 1000:.1f} ms), over {record['wall_s']} s; "
              f"machine {record['machine_util']:.0%} busy (the two Chromium pages are most of it)")
        print(f"server idle: {record['server_idle_cpu_per_s'] * 1000:.1f} ms of CPU per second; per call net of "
              f"idle: {record['server_net_cpu_s_per_call'] * 1000:.1f} ms")
        emit_json(args.json, record)
    finally:
        await api.close()
        srv.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20, help="calls to set up and hang up (default 20)")
    parser.add_argument("--ws-calls", type=int, default=200, help="calls set up over two sockets alone (0: none)")
    parser.add_argument("--candidates", type=int, default=8, help="ICE candidates each way per socket-only call")
    parser.add_argument("--idle-s", type=float, default=10.0, help="seconds of idle server CPU measured first")
    add_server_args(parser)
    run(main(parser.parse_args()))
