"""parley.core.proxies: which peers may speak for the client, and who the client then is."""

from __future__ import annotations

import ipaddress

import pytest

from parley.core.proxies import client_address, is_trusted, parse_networks

LOOPBACK = parse_networks("127.0.0.0/8,::1")


def test_parse_networks_takes_addresses_and_cidrs() -> None:
    assert parse_networks(" 10.0.0.0/8 , ::1,192.0.2.7,, ") == (
        ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128"), ipaddress.ip_network("192.0.2.7/32"))
    assert parse_networks("") == ()
    assert parse_networks("10.1.2.3/8") == (ipaddress.ip_network("10.0.0.0/8"),)  # host bits allowed


@pytest.mark.parametrize("spec", ["nginx", "10.0.0.0/33", "1.2.3.4.5", "10.0.0.0/8, ::g"])
def test_parse_networks_refuses_what_is_not_an_address(spec: str) -> None:
    with pytest.raises(ValueError, match="not an IP address or CIDR network"):
        parse_networks(spec)


@pytest.mark.parametrize(("peer", "trusted"), [
    ("127.0.0.1", True), ("127.9.9.9", True), ("::1", True), ("::ffff:127.0.0.1", True),
    ("10.0.0.1", False), ("::2", False), ("", False), ("not an address", False),
])
def test_is_trusted(peer: str, trusted: bool) -> None:
    assert is_trusted(peer, LOOPBACK) is trusted


def test_an_untrusted_peer_is_the_client_whatever_it_forwards() -> None:
    assert client_address("203.0.113.9", ["198.51.100.1"], LOOPBACK) == "203.0.113.9"
    assert client_address("203.0.113.9", [], LOOPBACK) == "203.0.113.9"


def test_a_trusted_peer_names_the_right_most_untrusted_hop() -> None:
    # The client wrote "1.1.1.1, 2.2.2.2"; nginx appended the address it saw.
    assert client_address("127.0.0.1", ["1.1.1.1, 2.2.2.2, 198.51.100.7"], LOOPBACK) == "198.51.100.7"
    two_proxies = parse_networks("127.0.0.1, 10.0.0.0/8")
    assert client_address("127.0.0.1", ["6.6.6.6, 198.51.100.7, 10.0.0.5"], two_proxies) == "198.51.100.7"
    # Several header lines count as one list, in order.
    assert client_address("127.0.0.1", ["6.6.6.6", "198.51.100.7, 10.0.0.5"], two_proxies) == "198.51.100.7"


def test_forwarded_addresses_are_normalised() -> None:
    assert client_address("::1", ["2001:DB8:0:0::1"], LOOPBACK) == "2001:db8::1"
    assert client_address("::1", ["::ffff:198.51.100.7"], LOOPBACK) == "198.51.100.7"


def test_a_trusted_peer_without_forwarding_is_the_client() -> None:
    assert client_address("127.0.0.1", [], LOOPBACK) == "127.0.0.1"
    assert client_address("127.0.0.1", [" , "], LOOPBACK) == "127.0.0.1"


def test_only_trusted_hops_give_the_left_most() -> None:
    assert client_address("127.0.0.1", ["127.0.0.3, 127.0.0.2"], LOOPBACK) == "127.0.0.3"


def test_a_hop_that_is_not_an_address_is_kept_short() -> None:
    assert client_address("127.0.0.1", ["unknown"], LOOPBACK) == "unknown"
    assert len(client_address("127.0.0.1", ["x" * 5000], LOOPBACK)) == 64
