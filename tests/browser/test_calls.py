"""Voice and video calls (issue 13) between real Chromium pages with fake camera and microphone:
media must flow (RTCPeerConnection stats), through a real coturn when relaying is forced."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import chromium, wait_connected
from tests.browser.harness import Server, User

MEDIA_ARGS = ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
              "--autoplay-policy=no-user-gesture-required")
TURN_SECRET = "browser-test-turn-secret"
STATS = "import('/static/views/call.js').then((m) => m.stats())"


def _free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stun_answers(port: int) -> bool:
    """A STUN binding request over UDP answered: the TURN server is listening."""
    request = struct.pack("!HHI12s", 0x0001, 0, 0x2112A442, os.urandom(12))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.3)
        try:
            s.sendto(request, ("127.0.0.1", port))
            data, _ = s.recvfrom(2048)
        except OSError:
            return False
    return data[:2] == b"\x01\x01"


def _bindable(port: int) -> bool:
    """The port (and coturn's alternative port, the next one) free on UDP and TCP alike."""
    for p in (port, port + 1):
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            with socket.socket(socket.AF_INET, kind) as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    return False
    return True


def _start_coturn(binary: str, workdir: Path) -> tuple[subprocess.Popen[bytes], int] | None:
    port = _free_port()
    while not _bindable(port):
        port = _free_port()
    low = 49152 + (port % 1000) * 10
    conf = workdir / f"turnserver-{port}.conf"
    conf.write_text("\n".join([
        "listening-ip=127.0.0.1", "relay-ip=127.0.0.1", f"listening-port={port}", f"min-port={low}",
        f"max-port={low + 200}", "use-auth-secret", f"static-auth-secret={TURN_SECRET}", "realm=parley.test",
        "allow-loopback-peers", "no-tls", "no-dtls", "no-cli", "fingerprint", "no-stdout-log",
        f"log-file={workdir / 'turn.log'}", "simple-log", f"pidfile={workdir / 'turn.pid'}", ""]))
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15
    while proc.poll() is None and time.monotonic() < deadline:
        if _stun_answers(port):
            return proc, port
    proc.kill()
    proc.wait(timeout=10)
    return None


@pytest.fixture(scope="module")
def turn_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Debian's coturn on loopback, in use-auth-secret mode, allowed to relay to loopback peers."""
    binary = shutil.which("turnserver") or "/usr/bin/turnserver"
    if not Path(binary).exists():
        pytest.fail("turnserver is missing: install coturn (scripts/test-deps.sh)", pytrace=False)
    workdir = tmp_path_factory.mktemp("coturn")
    started = None
    for _ in range(3):  # a port taken between the check and coturn's bind: another one
        started = _start_coturn(binary, workdir)
        if started:
            break
    if started is None:
        log = (workdir / "turn.log").read_text(errors="replace") if (workdir / "turn.log").exists() else ""
        pytest.fail(f"coturn did not start: {log[-2000:]}", pytrace=False)
    proc, port = started
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, turn_port: int) -> Iterator[Server]:
    env = {"PARLEY_TURN_URLS": f"turn:127.0.0.1:{turn_port}?transport=udp", "PARLEY_TURN_SECRET": TURN_SECRET,
           "PARLEY_CALL_TIMEOUT_S": "10"}
    server = Server(tmp_path_factory.mktemp("parley-calls"), env).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium(*MEDIA_ARGS) as browser:
        yield browser


def _open(open_app: Any, user: User, room_id: int, relay: bool = False) -> Page:
    page = open_app(user, path=None)
    if relay:
        page.add_init_script("window.PARLEY_ICE_POLICY = 'relay';")
    page.goto(f"/#/room/{room_id}")
    wait_connected(page)
    page.locator(f'.room[data-room-id="{room_id}"] .timeline').wait_for()
    return page


def _stats(page: Page) -> dict[str, Any] | None:
    return page.evaluate(STATS)


def _receiving(page: Page, peers: int, timeout: float = 30.0) -> dict[str, Any]:
    """Waits until the page receives audio and decoded video of a `peers` other participants."""
    deadline = time.monotonic() + timeout
    while True:
        got = _stats(page)
        links = (got or {}).get("peers", {})
        if len(links) == peers and all(v["audioBytes"] > 0 and v["framesDecoded"] > 0 and v["videoWidth"] > 0
                                       for v in links.values()):
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"no media both ways after {timeout} s: {got}")
        page.wait_for_timeout(250)


def _still_growing(page: Page, before: dict[str, Any], timeout: float = 15.0) -> dict[str, Any]:
    """Waits until every link has received more audio and video bytes than in `before`."""
    deadline = time.monotonic() + timeout
    while True:
        now = _stats(page)
        links = (now or {}).get("peers", {})
        if links and all(p in before["peers"] and v["audioBytes"] > before["peers"][p]["audioBytes"]
                         and v["videoBytes"] > before["peers"][p]["videoBytes"] for p, v in links.items()):
            return now
        if time.monotonic() > deadline:
            raise AssertionError(f"media stopped: {before} -> {now}")
        page.wait_for_timeout(250)


def _timeline_line(page: Page, text: str) -> None:
    expect(page.locator("li.sys", has_text=text).last).to_be_visible(timeout=20_000)


def test_direct_call_rings_and_media_flows_both_ways(open_app, live_server: Server) -> None:
    ann, bob = live_server.register("ann", "Ann"), live_server.register("bob", "Bob")
    room = live_server.call("POST", "/direct", {"usernames": [bob.username]}, ann)
    ann_page, bob_page = _open(open_app, ann, room["id"]), _open(open_app, bob, room["id"])

    ann_page.locator(f'.room[data-room-id="{room["id"]}"] .call-start').click()
    expect(ann_page.locator(".call-view")).to_be_visible()
    ring = bob_page.locator("dialog.call-ring")
    expect(ring).to_contain_text("Ann")
    ring.locator(".call-accept").click()
    expect(bob_page.locator(".call-view")).to_be_visible()

    for page in (ann_page, bob_page):
        first = _receiving(page, 1)
        _still_growing(page, first)
    assert _stats(bob_page)["setupMs"] is not None

    # The socket drops and comes back: the peer connections never depended on it, the media goes on,
    # and bob takes his place in the call over again (same participant id).
    before = _stats(bob_page)
    bob_page.evaluate("window.dispatchEvent(new Event('offline'))")
    expect(bob_page.locator('.conn[data-state="offline"]')).to_be_attached()
    expect(bob_page.locator(".call-status")).to_have_text("Reconnecting… the call goes on")
    bob_page.evaluate("window.dispatchEvent(new Event('online'))")
    wait_connected(bob_page)
    expect(bob_page.locator(".call-status")).to_have_text("")
    for page in (ann_page, bob_page):
        _still_growing(page, _stats(page))
    assert _stats(bob_page)["peer"] == before["peer"]
    running = live_server.call("GET", f"/rooms/{room['id']}/call", user=ann)["call"]
    assert sorted(p["user"]["id"] for p in running["participants"]) == sorted([ann.id, bob.id])

    # Mute and camera off are the tracks' own switches; the call goes on.
    bob_page.locator(".call-controls button[aria-pressed]").first.click()
    expect(bob_page.locator(".call-controls button[aria-pressed='true']")).to_have_count(1)
    # Ann hangs up: a 1:1 call ends for both, and says so in both timelines.
    ann_page.locator(".call-hangup").click()
    expect(bob_page.locator(".call-view")).to_have_count(0, timeout=20_000)
    for page in (ann_page, bob_page):
        _timeline_line(page, "Call ended")
        expect(page.locator("li.sys", has_text="started a call").last).to_be_visible()


def test_missed_call_shows_as_missed(open_app, live_server: Server) -> None:
    ann, bob = live_server.register("ann", "Ann"), live_server.register("bob", "Bob")
    room = live_server.call("POST", "/direct", {"usernames": [bob.username]}, ann)
    ann_page, bob_page = _open(open_app, ann, room["id"]), _open(open_app, bob, room["id"])
    ann_page.locator(f'.room[data-room-id="{room["id"]}"] .call-start').click()
    bob_page.locator("dialog.call-ring .call-decline").click()
    expect(ann_page.locator(".call-view")).to_have_count(0, timeout=20_000)
    for page in (ann_page, bob_page):
        _timeline_line(page, "Declined call from")


def test_group_call_of_three_one_leaves_the_others_keep_talking(open_app, live_server: Server) -> None:
    ann, bob, cat = (live_server.register(n, n.title()) for n in ("ann", "bob", "cat"))
    room = live_server.create_room(ann, "standup", members=(bob, cat))
    pages = [_open(open_app, u, room["id"]) for u in (ann, bob, cat)]
    pages[0].locator(f'.room[data-room-id="{room["id"]}"] .call-start').click()
    for page in pages[1:]:
        banner = page.locator(".call-banner")
        expect(banner).to_be_visible()
        banner.locator("button").click()
    for page in pages:
        _receiving(page, 2, timeout=45)

    pages[2].locator(".call-hangup").click()
    expect(pages[2].locator(".call-view")).to_have_count(0)
    for page in pages[:2]:
        deadline = time.monotonic() + 20
        while len((_stats(page) or {}).get("peers", {})) != 1:
            assert time.monotonic() < deadline, _stats(page)
            page.wait_for_timeout(200)
        _still_growing(page, _stats(page))
    expect(pages[2].locator(".call-banner")).to_be_visible()  # cat may come back

    pages[1].locator(".call-hangup").click()
    pages[0].locator(".call-hangup").click()
    for page in pages:
        _timeline_line(page, "Call ended")
    expect(pages[2].locator(".call-banner")).to_be_hidden()


def test_media_through_coturn_with_server_issued_credentials(open_app, live_server: Server) -> None:
    ann, bob = live_server.register("ann", "Ann"), live_server.register("bob", "Bob")
    room = live_server.create_room(ann, "relayed", members=(bob,))
    ann_page, bob_page = _open(open_app, ann, room["id"], relay=True), _open(open_app, bob, room["id"], relay=True)
    ann_page.locator(f'.room[data-room-id="{room["id"]}"] .call-start').click()
    bob_page.locator(".call-banner button").click()
    for page in (ann_page, bob_page):
        got = _receiving(page, 1, timeout=45)
        assert all(link["relay"] for link in got["peers"].values()), got
        _still_growing(page, got)
    for page in (ann_page, bob_page):
        page.locator(".call-hangup").click()
    _timeline_line(ann_page, "Call ended")
