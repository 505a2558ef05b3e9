"""parley.config.from_env: defaults, PARLEY_* variables, flags over variables, clear errors."""

from __future__ import annotations

import dataclasses

import pytest

from parley.config import Settings, env_name, from_env


def test_defaults_with_an_empty_environment() -> None:
    s = from_env({})
    assert s == Settings()
    assert (s.host, s.port, s.database_url, s.broker_url) == ("127.0.0.1", 8000, "sqlite:///var/parley.db", "memory://")
    assert s.trust_proxy is False
    assert s.origins == frozenset()


def test_every_setting_has_a_parley_variable() -> None:
    assert env_name("port") == "PARLEY_PORT"
    assert env_name("rate_limit_per_sec") == "PARLEY_RATE_LIMIT_PER_SEC"
    for f in dataclasses.fields(Settings):
        assert f.metadata.get("help"), f"{f.name} has no help text"


def test_variables_are_read_and_typed() -> None:
    s = from_env({
        "PARLEY_HOST": "0.0.0.0", "PARLEY_PORT": "9001", "PARLEY_DATABASE_URL": "postgresql://u@db/parley",
        "PARLEY_BROKER_URL": "redis://r:6379/0", "PARLEY_MAX_TEXT": "200", "PARLEY_RATE_LIMIT_BURST": "20",
        "PARLEY_RATE_LIMIT_PER_SEC": "2.5", "PARLEY_LOGIN_RATE_BURST": "3", "PARLEY_WS_MAX_QUEUE_BYTES": "4096",
        "PARLEY_SESSION_TTL_DAYS": "7", "PARLEY_SQLITE_SYNCHRONOUS": "NORMAL", "PARLEY_TRUST_PROXY": "true",
        "PARLEY_LOG_LEVEL": "DEBUG", "PARLEY_ALLOWED_ORIGINS": "https://a.example, https://b.example/ ,",
    })
    assert s.host == "0.0.0.0"
    assert s.port == 9001 and type(s.port) is int
    assert s.database_url == "postgresql://u@db/parley"
    assert s.broker_url == "redis://r:6379/0"
    assert s.max_text == 200
    assert s.rate_limit_burst == 20.0
    assert s.rate_limit_per_sec == 2.5
    assert s.login_rate_burst == 3.0
    assert s.ws_max_queue_bytes == 4096
    assert s.session_ttl_days == 7
    assert s.sqlite_synchronous == "NORMAL"
    assert s.trust_proxy is True
    assert s.log_level == "DEBUG"
    assert s.origins == frozenset({"https://a.example", "https://b.example"})


def test_other_variables_are_ignored() -> None:
    assert from_env({"PORT": "1", "PARLEY": "x", "parley_port": "2", "PARLEY_NOPE": "3"}) == Settings()


@pytest.mark.parametrize("raw", ["1", "true", "TRUE", "yes", "Yes", "on", "ON"])
def test_true_values(raw: str) -> None:
    assert from_env({"PARLEY_TRUST_PROXY": raw}).trust_proxy is True


@pytest.mark.parametrize("raw", ["0", "false", "False", "no", "off", "OFF", ""])
def test_false_values(raw: str) -> None:
    assert from_env({"PARLEY_TRUST_PROXY": raw}).trust_proxy is False


@pytest.mark.parametrize(("var", "raw"), [
    ("PARLEY_TRUST_PROXY", "maybe"),
    ("PARLEY_TRUST_PROXY", "2"),
    ("PARLEY_PORT", "abc"),
    ("PARLEY_PORT", "80.5"),
    ("PARLEY_PORT", ""),
    ("PARLEY_MAX_TEXT", "4k"),
    ("PARLEY_RATE_LIMIT_PER_SEC", "fast"),
    ("PARLEY_SESSION_TTL_DAYS", "1 month"),
    ("PARLEY_WS_MAX_QUEUE_BYTES", "1MiB"),
])
def test_bad_values_name_the_variable_and_the_value(var: str, raw: str) -> None:
    with pytest.raises(ValueError) as info:
        from_env({var: raw})
    message = str(info.value)
    assert message.startswith(var + " must be"), message
    assert repr(raw) in message


def test_flags_override_the_environment() -> None:
    env = {"PARLEY_PORT": "9001", "PARLEY_HOST": "0.0.0.0", "PARLEY_DATABASE_URL": "sqlite:///env.db"}
    s = from_env(env, port=9100, database_url="sqlite:///flag.db")
    assert s.port == 9100
    assert s.database_url == "sqlite:///flag.db"
    assert s.host == "0.0.0.0"  # not given as a flag: the variable stays


def test_unset_flags_do_not_override() -> None:
    s = from_env({"PARLEY_PORT": "9001"}, port=None, host=None)
    assert s.port == 9001
    assert s.host == "127.0.0.1"


def test_a_bad_variable_is_an_error_even_when_a_flag_overrides_it() -> None:
    """A bad variable is an error even if a flag would override it: the operator should hear about it."""
    with pytest.raises(ValueError, match="PARLEY_PORT"):
        from_env({"PARLEY_PORT": "abc"}, port=9000)


def test_reads_the_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_PORT", "9123")
    monkeypatch.setenv("PARLEY_TRUST_PROXY", "on")
    s = from_env()
    assert s.port == 9123
    assert s.trust_proxy is True


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        from_env({}).port = 1  # type: ignore[misc]


# --- values of the right type that cannot work must be refused too ---------------------------


@pytest.mark.parametrize(("var", "raw"), [
    ("PARLEY_PORT", "70000"),  # otherwise the server silently listens on 70000 % 65536 = 4464
    ("PARLEY_PORT", "-1"),
    ("PARLEY_MAX_TEXT", "0"),
    ("PARLEY_RATE_LIMIT_PER_SEC", "nan"),  # min(burst, nan) keeps every bucket full: no limit at all
    ("PARLEY_RATE_LIMIT_PER_SEC", "-1"),
    ("PARLEY_WS_MAX_QUEUE_BYTES", "-1"),
])
def test_out_of_range_numbers_are_refused(var: str, raw: str) -> None:
    with pytest.raises(ValueError, match=var):
        from_env({var: raw})


@pytest.mark.parametrize("raw", ["fulll", "bogus", "FULL; PRAGMA foreign_keys=OFF"])
def test_unknown_sqlite_synchronous_is_refused(raw: str) -> None:
    """SQLite silently takes an unknown `PRAGMA synchronous` value as NORMAL: a typo of FULL would
    quietly give up durability on power loss."""
    with pytest.raises(ValueError, match="PARLEY_SQLITE_SYNCHRONOUS"):
        from_env({"PARLEY_SQLITE_SYNCHRONOUS": raw})


def test_unknown_log_level_is_refused() -> None:
    """Otherwise `parley serve` dies in logging.basicConfig with a traceback instead of a usage error."""
    with pytest.raises(ValueError, match="PARLEY_LOG_LEVEL"):
        from_env({"PARLEY_LOG_LEVEL": "verbose"})


def test_trusted_proxies_default_to_loopback_and_are_checked() -> None:
    assert from_env({}).trusted_proxies == "127.0.0.0/8,::1"
    assert from_env({"PARLEY_TRUSTED_PROXIES": "10.0.0.5, 192.0.2.0/24"}).trusted_proxies == "10.0.0.5, 192.0.2.0/24"
    with pytest.raises(ValueError, match="PARLEY_TRUSTED_PROXIES: 'nginx' is not an IP address"):
        from_env({"PARLEY_TRUSTED_PROXIES": "127.0.0.1,nginx"})


def test_privacy_and_tls_settings() -> None:
    s = from_env({"PARLEY_DELETED_ACCOUNT_MESSAGES": "erase", "PARLEY_RETENTION_DAYS": "90",
                  "PARLEY_TLS_CERT": "/c.pem", "PARLEY_TLS_KEY": "/k.pem"})
    assert (s.deleted_account_messages, s.retention_days, s.tls_cert, s.tls_key) == ("erase", 90, "/c.pem", "/k.pem")
    with pytest.raises(ValueError, match="PARLEY_DELETED_ACCOUNT_MESSAGES"):
        from_env({"PARLEY_DELETED_ACCOUNT_MESSAGES": "shred"})
    with pytest.raises(ValueError, match="PARLEY_RETENTION_DAYS"):
        from_env({"PARLEY_RETENTION_DAYS": "-1"})
    with pytest.raises(ValueError, match="go together"):
        from_env({"PARLEY_TLS_CERT": "/c.pem"})
