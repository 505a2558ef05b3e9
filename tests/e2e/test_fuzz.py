"""Schemathesis over the served OpenAPI document, against a real server on SQLite and on PostgreSQL.

The fuzzer is authenticated as a registered user and aims every room path at a room that user owns
(and every member path at a member of it), so room operations act on real data rather than 404s.
It must find no 5xx and no answer outside the document (status, content type, body, headers), and
the server must log no traceback.

Left out of the fuzz, because a success would cut the run short rather than find a bug:
`POST /auth/logout` (revokes the fuzzer's own token; it takes no input but the session) and
`POST /rooms/{room_id}/leave` (the owner would leave the room every other path aims at; it takes no
input but the path). Both are exercised by tests/e2e/test_openapi.py. `POST /me/password` stays in:
the fuzzer cannot know the current password, so it can never revoke its own session.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.support import media
from tests.support.server import FAST_LIMITS, ServerProcess

CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance,response_headers_conformance")
EXCLUDED = ("/api/v1/auth/logout", "/api/v1/rooms/{room_id}/leave")
# Per operation and phase. With issues 11-13 the document has about 170 operations: 15 keeps a run
# near two minutes per database on the 2-core machine (30 took about four).
MAX_EXAMPLES = 15
# One worker: schemathesis builds regexes through `ast` while generating, and CPython 3.11 raises
# "SystemError: AST constructor recursion depth mismatch" when two threads do that at once (gh-106905).


def _post(base: str, path: str, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.load(resp)


def _upload(base: str, room_id: int, token: str) -> dict[str, Any]:
    boundary = "fuzzseed"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"seed.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode() + media.png(40, 30) + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(f"{base}/api/v1/rooms/{room_id}/uploads", data=body, method="POST", headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.load(resp)["upload"]


def _seed(base: str, workdir: Path) -> tuple[str, Path]:
    """A fuzzing user who owns a room with one other member and an image sent in it (so the media
    paths serve real bytes, ranges and thumbnail); returns its token and the config."""
    owner = _post(base, "/api/v1/auth/register", {"username": "fuzzer", "password": "fuzzing is fun 123"})
    mate = _post(base, "/api/v1/auth/register", {"username": "fuzzmate", "password": "fuzzing is fun 456"})
    room = _post(base, "/api/v1/rooms", {"name": "fuzzed", "topic": "by schemathesis"}, owner["token"])
    _post(base, f"/api/v1/rooms/{room['id']}/join", {}, mate["token"])
    image = _upload(base, room["id"], owner["token"])
    _post(base, f"/api/v1/rooms/{room['id']}/messages", {"attachments": [image["id"]]}, owner["token"])
    config = workdir / "schemathesis.toml"
    config.write_text(f'[parameters]\n"path.room_id" = {room["id"]}\n"path.user_id" = {mate["user"]["id"]}\n'
                      f'"path.upload_id" = {image["id"]}\n')
    return owner["token"], config


@pytest.mark.timeout(480)
def test_schemathesis_finds_no_error_and_nothing_outside_the_document(database_url: str, tmp_path: Path) -> None:
    proc = ServerProcess(database_url, tmp_path, env=FAST_LIMITS).start()
    try:
        token, config = _seed(proc.url, tmp_path)
        command = [str(Path(sys.executable).parent / "st"), "--config-file", str(config), "run",
                   f"{proc.url}/api/openapi.json", "--header", f"Authorization: Bearer {token}",
                   "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES), "--phases", "examples,coverage,fuzzing",
                   "--workers", "1", "--generation-database", "none", "--request-timeout", "20", "--no-color"]
        for path in EXCLUDED:
            command += ["--exclude-path", path]
        run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=420)
    finally:
        proc.stop()
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-12000:]
    selected = re.search(r"Operations:\s+(\d+) selected / (\d+) total", output)
    assert selected and int(selected[1]) == int(selected[2]) - len(EXCLUDED), output[-3000:]
    assert re.search(r"Test cases:\s+\d+ generated, \d+ passed", output), output[-3000:]
    assert not proc.tracebacks(), "\n".join(proc.tracebacks())[-8000:]
