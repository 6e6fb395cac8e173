"""The webhook URL to paste into Hello Client, and whether Hello Client can reach it.

Hello Client is a cloud service: it delivers from its own servers on the internet, so the
address it is given must be public (a name or IP the internet can route to) and should be
https. ``classify`` says, in plain words, what is wrong with an address; ``webhook_address``
builds the one URL the status page and the first-run path both show: ``BASE_URL``, else the
origin this request came to (behind a trusted proxy, the one the proxy says it served).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.requests import Request

from app.config import Settings
from app.web.security import forwarded, is_https

GUIDE = "docs/reverse-proxy.md"
TUNNEL = "No public IP: Cloudflare Tunnel"
REACHABLE = "Addresses Hello Client cannot reach"
# Names only a home network resolves: mDNS (.local), router-made suffixes, RFC 8375's home.arpa.
LOCAL_SUFFIXES = (
    ".local",
    ".lan",
    ".home.arpa",
    ".home",
    ".internal",
    ".intranet",
    ".localdomain",
    ".corp",
    ".private",
)
CGNAT = ipaddress.ip_network("100.64.0.0/10")
PRIVATE = tuple(
    ipaddress.ip_network(net)
    for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)
# A host as a Host header may carry it: a name, IPv4, or [IPv6], with an optional port.
_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(:\d{1,5})?$")


@dataclass(frozen=True)
class AddressWarning:
    kind: str  # loopback, private, link-local, cgnat, reserved, local-name, http, unparsable
    text: str
    section: str  # the heading in GUIDE that helps


@dataclass(frozen=True)
class WebhookAddress:
    base: str
    url: str  # what to paste into Hello Client
    derived: bool  # True: taken from the request, no BASE_URL
    warnings: tuple[AddressWarning, ...]


def _warn(kind: str, text: str, section: str = REACHABLE) -> AddressWarning:
    return AddressWarning(kind, text, section)


def _ip_warning(
    host: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address
) -> AddressWarning | None:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback or ip.is_unspecified:
        return _warn(
            "loopback",
            f"{host} is this machine's own loopback address: from Hello Client's servers it "
            "means their own machine, never yours.",
        )
    if ip.is_link_local:
        return _warn(
            "link-local",
            f"{host} is a link-local address: it only works between devices on the same "
            "network segment, never from the internet.",
        )
    if ip in CGNAT:
        return _warn(
            "cgnat",
            f"{host} is in 100.64.0.0/10, your internet provider's shared (carrier-grade NAT) "
            "range: this connection has no public IP of its own, so nothing outside can "
            "connect in. A tunnel that dials out works without one.",
            TUNNEL,
        )
    if any(ip in net for net in PRIVATE):
        return _warn(
            "private",
            f"{host} is a private (LAN) address: it only exists inside your own network, so "
            "Hello Client's servers on the internet cannot reach it.",
        )
    if ip.is_global:
        return None
    return _warn(
        "reserved",
        f"{host} is not a public internet address, so Hello Client's servers cannot reach it.",
    )


def _name_warning(host: str) -> AddressWarning | None:
    if host == "localhost" or host.endswith(".localhost"):
        return _warn(
            "loopback",
            f"{host} means this machine itself: from Hello Client's servers it means their "
            "own machine, never yours.",
        )
    if "." not in host or host.endswith(LOCAL_SUFFIXES):
        return _warn(
            "local-name",
            f"{host} is a name only your home network knows (no public DNS name): Hello "
            "Client's servers on the internet cannot look it up.",
        )
    return None


def _host_warning(host: str) -> AddressWarning | None:
    host = host.strip("[]").rstrip(".").lower()
    try:
        return _ip_warning(host, ipaddress.ip_address(host))
    except ValueError:
        return _name_warning(host)


def classify(url: str) -> tuple[AddressWarning, ...]:
    """Why Hello Client cannot (or should not) deliver to ``url``; empty when it looks fine."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
    except ValueError:
        parts, host = None, ""
    if parts is None or parts.scheme not in ("http", "https") or not host:
        return (_warn("unparsable", f"{url} is not an http(s) address with a host name in it."),)
    found: list[AddressWarning] = []
    if parts.scheme == "http":
        found.append(
            _warn(
                "http",
                "The address starts with http://, not https://: every lead (names, phone "
                "numbers, e-mail addresses) would cross the internet unencrypted, readable "
                "and changeable on the way. Publish the webhook over https, with a reverse "
                "proxy that has a certificate or a Cloudflare Tunnel.",
            )
        )
    host_warning = _host_warning(host)
    if host_warning is not None:
        found.insert(0, host_warning)
    return tuple(found)


def request_origin(request: Request, settings: Settings) -> str:
    """The origin this request was sent to, as the browser (or the proxy in front) saw it."""
    scheme = "https" if is_https(request, settings) else "http"
    for host in (forwarded(request, settings, "x-forwarded-host"), request.headers.get("host")):
        if host and _HOST.match(host):
            return f"{scheme}://{host}"
    port = request.url.port
    return f"{scheme}://{request.url.hostname}{f':{port}' if port else ''}"


def base_url(request: Request, settings: Settings) -> tuple[str, bool]:
    """BASE_URL, or this request's own origin (True when derived, so a page can say so)."""
    if settings.base_url:
        return settings.base_url, False
    return request_origin(request, settings), True


def webhook_address(request: Request, settings: Settings) -> WebhookAddress:
    base, derived = base_url(request, settings)
    url = f"{base}/webhook"
    return WebhookAddress(base, url, derived, classify(url))
