"""Calls (issue 13): the pure rules: coturn's TURN REST credentials, ICE server settings."""

from __future__ import annotations

import pytest

from parley.core import calls as rules
from parley.core.errors import Invalid


def test_turn_credentials_are_coturn_s() -> None:
    name, credential = rules.turn_credentials("s3cret", 42, 1_700_000_000, 600)
    assert name == "1700000600:42"
    assert credential == "ZqcAba8GvhzRBDmUfsjmb0Jj5rc="
    assert rules.parse_ice_servers("stun:a:3478, stun:b:3478") == [{"urls": ["stun:a:3478", "stun:b:3478"]}]
    assert rules.parse_ice_servers('[{"urls": "turn:t:3478", "username": "u", "credential": "c"}]') == [
        {"urls": ["turn:t:3478"], "username": "u", "credential": "c"}]


@pytest.mark.parametrize("spec", ["http://x", "[1, 2]", "[{\"url\": \"stun:x\"}]", "[{\"urls\": []}]", "{nope"])
def test_bad_ice_server_settings_are_refused(spec: str) -> None:
    with pytest.raises(Invalid):
        rules.parse_ice_servers(spec)


def test_ice_answer_has_turn_only_with_a_secret() -> None:
    static = [{"urls": ["stun:s:3478"]}]
    assert rules.ice_servers(static, ["turn:t:3478"], "", 600, 7, 100) == {"ice_servers": static, "ttl_s": None}
    got = rules.ice_servers(static, ["turn:t:3478"], "k", 600, 7, 100)
    assert got["ttl_s"] == 600 and got["ice_servers"][1]["username"] == "700:7"
