"""Who is really calling: the peer address, or X-Forwarded-For when the peer is a trusted proxy."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from app.config import Network

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_ip(text: str | None) -> Address | None:
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    # An IPv4 client seen through an IPv6 socket reads ::ffff:a.b.c.d; compare it as IPv4.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def in_networks(address: Address | None, networks: Sequence[Network]) -> bool:
    return address is not None and any(address in network for network in networks)


def client_ip(
    peer: str | None, forwarded_for: str | None, trusted_proxies: Sequence[Network]
) -> str:
    """The address of the first hop, walking X-Forwarded-For right to left past trusted proxies.

    A header from an untrusted peer is ignored entirely: anybody can write one.
    """
    address = parse_ip(peer)
    if address is None:
        return peer or "unknown"
    if not forwarded_for or not in_networks(address, trusted_proxies):
        return str(address)
    for hop in reversed(forwarded_for.split(",")):
        hop_address = parse_ip(hop)
        if hop_address is None:
            break  # a garbled hop: trust nothing further left
        address = hop_address
        if not in_networks(address, trusted_proxies):
            break
    return str(address)
