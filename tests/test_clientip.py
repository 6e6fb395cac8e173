"""app.clientip: who is calling, behind TRUSTED_PROXIES, and allowlist matching."""

from __future__ import annotations

import ipaddress

import pytest

from app.clientip import client_ip, in_networks, parse_ip
from app.config import HELLO_CLIENT_IPS, load_settings

PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8"))


def test_no_header_gives_the_peer() -> None:
    assert client_ip("203.0.113.9", None, PROXIES) == "203.0.113.9"
    assert client_ip("10.0.0.2", "", PROXIES) == "10.0.0.2"


def test_header_from_an_untrusted_peer_is_ignored() -> None:
    assert client_ip("203.0.113.9", "138.91.187.181", PROXIES) == "203.0.113.9"
    assert client_ip("203.0.113.9", "138.91.187.181", ()) == "203.0.113.9"


def test_trusted_proxy_hands_over_the_client() -> None:
    assert client_ip("10.0.0.2", "138.91.187.181", PROXIES) == "138.91.187.181"


def test_walks_right_to_left_past_trusted_proxies_only() -> None:
    # The leftmost entry was written by the caller itself: only the first untrusted hop from
    # the right is known to be real.
    chain = "1.1.1.1, 138.91.187.181, 10.1.1.1, 10.2.2.2"
    assert client_ip("10.0.0.2", chain, PROXIES) == "138.91.187.181"


def test_every_hop_trusted_gives_the_leftmost() -> None:
    assert client_ip("10.0.0.2", "10.9.9.9,10.1.1.1", PROXIES) == "10.9.9.9"


@pytest.mark.parametrize(
    ("chain", "expected"),
    [
        ("138.91.187.181, not-an-ip, 10.1.1.1", "10.1.1.1"),  # stop at the garbled hop
        ("138.91.187.181, 10.1.1.1, ", "10.0.0.2"),  # empty rightmost hop: nothing believed
        ("138.91.187.181:4711", "10.0.0.2"),  # ports are not part of X-Forwarded-For
        ("unknown", "10.0.0.2"),
    ],
)
def test_garbled_hop_trusts_nothing_further_left(chain: str, expected: str) -> None:
    assert client_ip("10.0.0.2", chain, PROXIES) == expected


def test_ipv4_mapped_ipv6_peer_and_hops_compare_as_ipv4() -> None:
    assert client_ip("::ffff:10.0.0.2", "::ffff:138.91.187.181", PROXIES) == "138.91.187.181"
    assert client_ip("::ffff:203.0.113.9", None, PROXIES) == "203.0.113.9"
    assert parse_ip("::ffff:138.91.187.181") == ipaddress.ip_address("138.91.187.181")


def test_ipv6_peers_and_bracketed_hops() -> None:
    assert client_ip("fd00::1", "[2001:db8::7]", PROXIES) == "2001:db8::7"
    assert client_ip("2001:db8::1", "138.91.187.181", PROXIES) == "2001:db8::1"


def test_unparseable_peer_is_passed_through_and_never_trusted() -> None:
    assert client_ip("not-an-ip", "138.91.187.181", PROXIES) == "not-an-ip"
    assert client_ip(None, "138.91.187.181", PROXIES) == "unknown"


@pytest.mark.parametrize("text", [None, "", "x", "1.2.3", "300.1.1.1", "1.2.3.4/32"])
def test_parse_ip_rejects_non_addresses(text: str | None) -> None:
    assert parse_ip(text) is None


def test_allowlist_with_the_vendor_alias_and_cidrs() -> None:
    settings = load_settings({"WEBHOOK_ALLOWED_IPS": "hello-client, 192.0.2.0/24 2001:db8::/32"})
    networks = settings.allowed_networks
    for address in HELLO_CLIENT_IPS:
        assert in_networks(parse_ip(address), networks)
    assert in_networks(parse_ip("::ffff:20.245.232.251"), networks)
    assert in_networks(parse_ip("192.0.2.255"), networks)
    assert in_networks(parse_ip("2001:db8:1::5"), networks)
    assert not in_networks(parse_ip("138.91.187.182"), networks)
    assert not in_networks(parse_ip("192.0.3.1"), networks)
    assert not in_networks(parse_ip("2001:db9::1"), networks)
    assert not in_networks(None, networks)
    assert not in_networks(parse_ip("138.91.187.181"), ())
