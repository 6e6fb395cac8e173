"""Where records are forwarded: FORWARD_URLS (sharing FORWARD_SECRET) and the browser's own.

A destination's URL, secret and extra headers are secrets: pages and logs see ``url_masked``
and nothing else, and every text bound for them passes ``Destination.scrub``. A URL may point at
the LAN (that is the point) but never at the appliance itself (see ``check_url``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import SplitResult, parse_qsl, quote, unquote, urlsplit

from sqlalchemy import Connection, select

from app.config import Settings
from app.models import ForwardDestination

KINDS = ("lead", "appointment", "chatlog")
DEFAULT_KINDS = frozenset({"lead", "appointment"})
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the spec allows 24 to 64
MIN_SECRET_BYTES, MAX_SECRET_BYTES = 24, 64
MIN_SCRUB_CHARS = 6
# Header names a destination may not set: they are ours (signature) or the transport's.
RESERVED_HEADERS = frozenset(
    {"webhook-id", "webhook-timestamp", "webhook-signature", "content-type", "content-length"}
    | {"host", "connection", "transfer-encoding", "user-agent"}
)
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")


class Source:
    ENV = "env"  # FORWARD_URLS
    DB = "db"  # added in the browser


class DestinationError(ValueError):
    """A destination cannot be used or changed as asked; the message is for the person."""


def lead_kind(lead_type: str) -> str:
    """Any Type but Appointment forwards as a lead (the vendor may add types)."""
    return "appointment" if lead_type.strip().lower() == "appointment" else "lead"


# ---- secrets ------------------------------------------------------------------------------


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_bytes(secret: str) -> bytes:
    """The key a ``whsec_…`` secret stands for, as the official libraries decode it."""
    text = secret.strip()
    if not text.startswith(SECRET_PREFIX):
        raise DestinationError("the secret must look like whsec_<base64>")
    try:
        key = base64.b64decode(text.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise DestinationError("the secret's part after whsec_ is not base64") from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise DestinationError(
            f"the secret must hold {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes, not {len(key)}"
        )
    return key


# ---- URLs ---------------------------------------------------------------------------------


def _port(parts: SplitResult) -> int:
    try:
        port = parts.port
    except ValueError:
        raise DestinationError("the URL's port is not a number from 1 to 65535") from None
    return port or (443 if parts.scheme == "https" else 80)


def _base_parts(settings: Settings) -> tuple[str, int, str] | None:
    if not settings.base_url:
        return None
    base = urlsplit(settings.base_url)
    return (base.hostname or "").lower(), _port(base), base.path.rstrip("/")


def check_url(url: str, settings: Settings) -> str:
    """The URL, stripped, if it can be a destination; else ``DestinationError`` saying why.

    The appliance itself is refused: anything under BASE_URL, and its own port on loopback or
    on the address it listens on (a loop would forward each record to itself for ever). The
    connected peer is checked again at every send (``transport``), so a name resolving to us later
    is caught too.
    """
    url = url.strip()
    if not url:
        raise DestinationError("enter a URL, e.g. https://n8n.example.lan/webhook/leads")
    if any(ch.isspace() for ch in url) or len(url) > 4000:
        raise DestinationError("the URL may not contain spaces, and at most 4000 characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise DestinationError("the URL must start with http:// or https://")
    host = (parts.hostname or "").lower()
    if not host:
        raise DestinationError("the URL has no host")
    port = _port(parts)
    base = _base_parts(settings)
    if base is not None and (host, port) == base[:2] and parts.path.startswith(base[2]):
        raise DestinationError("that URL is this inbox itself (under BASE_URL)")
    own_hosts = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "::", settings.host.lower()}
    if port == settings.port and (host in own_hosts or host.startswith("127.")):
        raise DestinationError("that URL is this inbox itself (its own address and port)")
    return url


def _mask_segment(segment: str) -> str:
    """Long path pieces are tokens (Zapier hook ids, Apps Script deployments, n8n UUIDs)."""
    return segment if len(segment) <= 8 else segment[:4] + "****"


def mask_url(url: str) -> str:
    """What pages show: scheme, host and port, short path pieces; the rest is ****."""
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = ("****@" if parts.username or parts.password else "") + host
    if parts.port:
        netloc += f":{parts.port}"
    path = "/".join(_mask_segment(piece) for piece in parts.path.split("/"))
    query = "&".join(f"{quote(k, safe='')}=****" for k, _v in parse_qsl(parts.query, True))
    return f"{parts.scheme}://{netloc}{path}" + (f"?{query}" if query else "")


def url_secrets(url: str) -> tuple[str, ...]:
    """Pieces of a URL that masking hides: scrubbed from errors and answers before storing."""
    parts = urlsplit(url)
    found = {parts.username or "", parts.password or ""}
    found.update(piece for piece in parts.path.split("/") if len(piece) > 8)
    found.update(value for _k, value in parse_qsl(parts.query, True))
    found |= {unquote(piece) for piece in found}
    return tuple(piece for piece in found if len(piece) >= MIN_SCRUB_CHARS)


def split_kinds(url: str) -> tuple[str, frozenset[str]]:
    """A FORWARD_URLS entry's URL and events: ``#lead+chatlog`` (a fragment is never sent)."""
    bare, _sep, fragment = url.partition("#")
    if not fragment:
        return bare, DEFAULT_KINDS
    chosen = frozenset(part.strip().lower() for part in re.split(r"[+|;]", fragment))
    unknown = chosen - set(KINDS)
    if unknown:
        raise DestinationError(
            f"unknown event(s) {', '.join(sorted(unknown))} after #; use {'+'.join(KINDS)}"
        )
    return bare, chosen


def parse_headers(text: str) -> dict[str, str]:
    """``Name: value`` lines (an API key for a CRM) to a dict; blank lines are skipped."""
    headers: dict[str, str] = {}
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        name, value = name.strip(), value.strip()
        if not sep or not _HEADER_NAME.match(name):
            raise DestinationError(f"header line {number}: write it as Name: value")
        if name.lower() in RESERVED_HEADERS:
            raise DestinationError(f"header line {number}: {name} is set by the inbox itself")
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in value) or len(value) > 4000:
            raise DestinationError(f"header line {number}: the value holds control characters")
        headers[name] = value
    if len(headers) > 20:
        raise DestinationError("at most 20 extra headers")
    return headers


# ---- destinations -------------------------------------------------------------------------


@dataclass(eq=False)
class Destination:
    """A destination as the worker sends to it: secrets included, so never shown as it is."""

    key: str
    source: str
    name: str
    url: str
    url_masked: str
    kinds: frozenset[str]
    secret: str | None  # whsec_…; None: FORWARD_SECRET missing (env), shown as a problem
    headers: Mapping[str, str] = field(default_factory=dict)
    enabled: bool = True
    error: str | None = None  # why it cannot be used as configured

    @property
    def usable(self) -> bool:
        return self.enabled and self.error is None and self.secret is not None

    @property
    def hidden(self) -> tuple[str, ...]:
        found = [*url_secrets(self.url), *self.headers.values()]
        if self.secret:
            found += [self.secret, self.secret.removeprefix(SECRET_PREFIX)]
        pieces = {piece for piece in found if len(piece) >= MIN_SCRUB_CHARS}
        return tuple(sorted(pieces, key=len, reverse=True))  # longest first: no leftovers

    def scrub(self, text: str) -> str:
        """This destination's secrets out of a text bound for logs, pages or the database."""
        for piece in self.hidden:
            text = text.replace(piece, "****")
        return text


def env_key(url: str) -> str:
    return "env:" + hashlib.sha256(url.encode("utf-8")).hexdigest()[:32]


def new_db_key() -> str:
    return "db:" + secrets.token_hex(8)


@dataclass
class EnvDestinations:
    destinations: list[Destination]
    problems: list[str]


def load_env(settings: Settings) -> EnvDestinations:
    """FORWARD_URLS as destinations (each a problem rather than a crash when unusable)."""
    problems: list[str] = []
    found: dict[str, Destination] = {}
    entries = [entry for entry in re.split(r"[,\s]+", settings.forward_urls or "") if entry]
    secret = settings.forward_secret
    if entries and secret is None:
        problems.append("FORWARD_SECRET is not set: nothing goes to FORWARD_URLS until it is")
    elif secret is not None:
        try:
            secret_bytes(secret)
        except DestinationError as exc:
            problems.append(f"FORWARD_SECRET: {exc}")
            secret = None
    for number, entry in enumerate(entries, start=1):
        try:
            bare, kinds = split_kinds(entry)
            masked = mask_url(bare)
            url = check_url(bare, settings)
        except DestinationError as exc:
            problems.append(f"FORWARD_URLS entry {number} ({mask_url(entry)}): {exc}")
            continue
        key = env_key(url)
        found.setdefault(key, Destination(key, Source.ENV, masked, url, masked, kinds, secret, {}))
    return EnvDestinations(list(found.values()), problems)


def db_destination(row: Any, settings: Settings) -> Destination:
    """A destination added in the browser, from its ``forward_destination`` row."""
    kinds = frozenset(kind for kind in KINDS if getattr(row, f"want_{kind}", False))
    url, error = row.url or "", None
    try:
        check_url(url, settings)  # BASE_URL or PORT may have changed since it was added
    except DestinationError as exc:
        error = str(exc)
    return Destination(
        key=row.key,
        source=Source.DB,
        name=row.name or row.url_masked,
        url=url,
        url_masked=row.url_masked,
        kinds=kinds,
        secret=row.secret,
        headers=dict(row.headers or {}),
        enabled=row.enabled,
        error=error,
    )


def kind_flags(kinds: Iterable[str]) -> dict[str, bool]:
    """The three ``want_*`` columns for a choice of events, checked."""
    chosen = {kind.strip().lower() for kind in kinds}
    unknown = chosen - set(KINDS)
    if unknown:
        raise DestinationError(f"unknown event(s) {', '.join(sorted(unknown))}")
    return {f"want_{kind}": kind in chosen for kind in KINDS}


def current(
    connection: Connection, env: EnvDestinations, settings: Settings
) -> dict[str, Destination]:
    """Every destination by key, read afresh: FORWARD_URLS ones (switched on or off by their
    row: a 410 or the UI) and the browser's own."""
    rows = {row.key: row for row in connection.execute(select(ForwardDestination)).all()}
    found: dict[str, Destination] = {}
    for destination in env.destinations:
        row = rows.get(destination.key)
        enabled = row.enabled if row is not None else True
        found[destination.key] = replace(destination, enabled=enabled)
    for key, row in rows.items():
        if row.source == Source.DB:
            found[key] = db_destination(row, settings)
    return found
