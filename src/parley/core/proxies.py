"""Which peers may speak for the client (X-Forwarded-*), and who the client then is. Pure: the web
layer hands in the peer address and the header values."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_ODD_HOP_MAX = 64  # a forwarded entry that is not an address is still an identity, a short one


@lru_cache(maxsize=16)
def parse_networks(spec: str) -> tuple[Network, ...]:
    """'127.0.0.0/8, ::1, 10.0.0.7' -> networks; a bare address is a network of one."""
    networks = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or CIDR network") from None
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    # An IPv4 client on a dual-stack socket shows up as ::ffff:a.b.c.d.
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_trusted(peer: str, networks: tuple[Network, ...]) -> bool:
    ip = _address(peer)
    return ip is not None and any(ip in net for net in networks)


def client_address(peer: str, forwarded_for: Iterable[str], networks: tuple[Network, ...]) -> str:
    """The client behind a chain of trusted proxies: each proxy appends the address it saw, so the
    right-most entry that is not itself a trusted proxy is the first one nobody can forge. Entries
    further left were written by the client and are ignored. A peer outside `networks` is the
    client, whatever it claims."""
    if not is_trusted(peer, networks):
        return peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        ip = _address(hop)
        if ip is None:
            return hop[:_ODD_HOP_MAX]
        if not any(ip in net for net in networks):
            return str(ip)
    # Every hop is a trusted proxy: the left-most is as close to the client as we can see.
    return str(_address(hops[0])) if hops else peer
