"""The `parley` command, run for real as `python -m parley ...` on a SQLite file.

Each process spends about a second importing, so the tests share one migrated database (its first
user is `owner`), and independent commands run side by side.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

GOOD_PASSWORD = "Correct-Horse-Battery-9"


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    return {**clean, **(extra or {})}


def parley_all(*commands: tuple[str, ...], cwd: Path, env: dict[str, str] | None = None,
               timeout: float = 60) -> list[subprocess.CompletedProcess[str]]:
    """Run independent `python -m parley` commands at the same time; their results in order."""
    procs = [(cmd, subprocess.Popen([sys.executable, "-m", "parley", *cmd], cwd=cwd, env=_env(env),
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)) for cmd in commands]
    results = []
    for cmd, proc in procs:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            err += f"\n[test: killed after {timeout} s]"
        results.append(subprocess.CompletedProcess(list(cmd), proc.returncode, out, err))
    return results


def parley(*args: str, cwd: Path, env: dict[str, str] | None = None,
           timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return parley_all(args, cwd=cwd, env=env, timeout=timeout)[0]


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def refused(result: subprocess.CompletedProcess[str], message: str) -> None:
    """A clean refusal: non-zero exit, the message on stderr, no traceback."""
    assert result.returncode != 0, f"{result.args} succeeded: {result.stdout}"
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr


class Db:
    def __init__(self, path: Path, cwd: Path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self.cwd = cwd

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run_all(args)[0]

    def run_all(self, *commands: tuple[str, ...]) -> list[subprocess.CompletedProcess[str]]:
        return parley_all(*((*cmd, "--database-url", self.url) for cmd in commands), cwd=self.cwd)

    def query(self, sql: str, *params: object) -> list[tuple]:
        with sqlite3.connect(self.path) as conn:
            return conn.execute(sql, params).fetchall()

    def user(self, name: str) -> tuple | None:
        """(id, username, is_admin, disabled) or None."""
        rows = self.query("SELECT id, username, is_admin, disabled FROM users WHERE username = ?", name)
        return rows[0] if rows else None


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    """`db upgrade` on a path whose directory does not exist yet, then the first user, `owner`."""
    workdir = tmp_path_factory.mktemp("cli")
    d = Db(workdir / "data" / "parley.db", workdir)
    assert "database at revision" in ok(d.run("db", "upgrade"))
    assert "created user owner" in ok(d.run("user", "create", "owner", "--password", GOOD_PASSWORD))
    yield d


def test_db_upgrade_creates_the_schema_and_is_idempotent(db: Db) -> None:
    assert db.path.is_file()
    tables = {r[0] for r in db.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"users", "sessions", "rooms", "members", "events", "alembic_version"} <= tables
    columns = {r[1] for r in db.query("PRAGMA table_info(events)")}
    assert {"id", "room_id", "seq", "type", "sender_id", "ts", "client_msg_id", "text", "data"} <= columns
    (version,) = db.query("SELECT version_num FROM alembic_version")
    # again: same revision, data kept
    assert version[0] in ok(db.run("db", "upgrade"))
    assert db.query("SELECT version_num FROM alembic_version") == [version]
    assert db.user("owner") is not None


def test_first_user_is_admin_later_ones_only_with_admin_flag(db: Db) -> None:
    assert db.user("owner")[2] == 1  # created first, without --admin
    bob, cid = db.run_all(("user", "create", "bob", "--password", GOOD_PASSWORD, "--display-name", "鲍勃"),
                          ("user", "create", "cid", "--password", GOOD_PASSWORD, "--admin"))
    assert "created user bob" in ok(bob) and "admin" not in ok(bob)
    assert "created user cid" in ok(cid) and "admin" in ok(cid)
    assert db.user("bob")[2:] == (0, 0)
    assert db.user("cid")[2:] == (1, 0)
    assert db.query("SELECT display_name FROM users WHERE username = 'bob'") == [("鲍勃",)]
    (pw_hash,) = db.query("SELECT password_hash FROM users WHERE username = 'bob'")[0]
    assert GOOD_PASSWORD not in pw_hash and pw_hash.startswith("$argon2id$")


def test_weak_password_or_taken_name_is_refused(db: Db) -> None:
    common, own_name, taken = db.run_all(("user", "create", "weak1", "--password", "password123"),
                                         ("user", "create", "weakling2", "--password", "WEAKLING2"),
                                         ("user", "create", "OWNER", "--password", GOOD_PASSWORD))
    refused(common, "Error: password is too common")
    refused(own_name, "Error: password")
    refused(taken, "Error: that username is taken")
    assert db.user("weak1") is None and db.user("weakling2") is None
    assert db.query("SELECT count(*) FROM users WHERE lower(username) = 'owner'") == [(1,)]


def test_user_disable(db: Db) -> None:
    created, unknown = db.run_all(("user", "create", "dora", "--password", GOOD_PASSWORD),
                                  ("user", "disable", "nobody"))
    ok(created)
    refused(unknown, "no user named 'nobody'")
    uid, _, _, disabled = db.user("dora")
    assert disabled == 0
    assert "disabled user dora" in ok(db.run("user", "disable", "dora"))
    assert db.user("dora")[3] == 1
    assert db.query("SELECT count(*) FROM sessions WHERE user_id = ?", uid) == [(0,)]
    assert db.user("owner")[3] == 0  # nobody else


def test_admin_registration_mode_and_invite_codes(db: Db) -> None:
    shown, unknown = db.run_all(("admin", "registration"), ("admin", "registration", "sometimes"))
    assert "registration: open" in ok(shown)
    assert unknown.returncode == 2 and "sometimes" in unknown.stderr
    assert "registration: closed" in ok(db.run("admin", "registration", "closed"))
    assert db.query("SELECT value FROM server_settings WHERE key = 'registration'") == [("closed",)]
    # The operator creates accounts whatever the mode.
    created, made, wrong = db.run_all(("user", "create", "gil", "--password", GOOD_PASSWORD),
                                      ("admin", "invite", "--uses", "3", "--expires", "2h"),
                                      ("admin", "invite", "--expires", "soon"))
    assert "created user gil" in ok(created)
    code = ok(made).splitlines()[0]
    uses, lifetime, creator = db.query("SELECT uses, expires_at - created_at, created_by FROM invites WHERE code = ?",
                                       code)[0]
    assert (uses, lifetime, creator) == (3, 2 * 3600 * 1000, None) and len(code) >= 16
    refused(wrong, "not a duration")
    assert "registration: open" in ok(db.run("admin", "registration", "open"))
    actions = [r[0] for r in db.query("SELECT action FROM audit_log WHERE actor_id IS NULL ORDER BY id")]
    assert actions == ["registration_mode", "create_invite", "registration_mode"]


def test_room_create(db: Db) -> None:
    public, private, orphan = db.run_all(
        ("room", "create", "lobby", "--owner", "owner"),
        ("room", "create", "secret", "--owner", "owner", "--private", "--topic", "hush"),
        ("room", "create", "orphan", "--owner", "ghost"))
    assert "created room lobby" in ok(public) and "public" in ok(public)
    assert "created room secret" in ok(private) and "private" in ok(private)
    refused(orphan, "no user named 'ghost'")
    rooms = {r[0]: r[1:] for r in db.query("SELECT name, kind, visibility, topic, id FROM rooms")}
    assert "orphan" not in rooms
    assert rooms["lobby"][:3] == ("room", "public", "")
    assert rooms["secret"][:3] == ("room", "private", "hush")
    owner_id = db.user("owner")[0]
    for name in ("lobby", "secret"):
        room_id = rooms[name][3]
        assert db.query("SELECT user_id, role, state FROM members WHERE room_id = ?", room_id) == \
            [(owner_id, 40, "joined")]  # Role.OWNER
        types = [r[0] for r in db.query("SELECT type FROM events WHERE room_id = ? ORDER BY seq", room_id)]
        assert types[0] == "room_created"


def test_export_status_counts_what_the_stream_is_behind(db: Db) -> None:
    db.run("room", "create", "streamed", "--owner", "owner")
    behind = db.query("SELECT count(*), sum(last_seq) FROM rooms WHERE last_seq > 0")[0]
    assert behind[0] >= 1
    out = ok(db.run("export", "status"))
    assert "exporting node: none" in out
    assert f"behind: {behind[1]} event(s) in {behind[0]} room(s)" in out


def test_bad_port_variable_is_a_usage_error(tmp_path: Path) -> None:
    result = parley("serve", "--database-url", f"sqlite:///{tmp_path / 'p.db'}", cwd=tmp_path,
                    env={"PARLEY_PORT": "abc"})
    assert result.returncode == 2  # click's usage error
    refused(result, "PARLEY_PORT")
    assert "'abc'" in result.stderr
    assert not (tmp_path / "p.db").exists()


def test_serve_refuses_redis_broker_with_sqlite(tmp_path: Path) -> None:
    """Several nodes cannot share a SQLite file: the refusal must point the operator at PostgreSQL."""
    result = parley("serve", "--host", "127.0.0.1", "--port", "0", "--database-url", f"sqlite:///{tmp_path / 'p.db'}",
                    "--broker-url", "redis://127.0.0.1:6379/0", cwd=tmp_path, timeout=30)
    refused(result, "postgresql://")


def test_serve_refuses_a_certificate_it_cannot_use(tmp_path: Path) -> None:
    (tmp_path / "cert.pem").write_text("not a certificate")
    result = parley("serve", "--port", "0", "--database-url", f"sqlite:///{tmp_path / 'p.db'}",
                    "--tls-cert", str(tmp_path / "cert.pem"), "--tls-key", str(tmp_path / "missing.pem"),
                    cwd=tmp_path, timeout=30)
    refused(result, "PARLEY_TLS_CERT")
