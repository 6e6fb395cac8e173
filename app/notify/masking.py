"""A notification URL shown back as the person wrote it, with its secrets masked.

Apprise's own ``url(privacy=True)`` rewrites the URL and appends its internal query options
(``?format=text&overflow=upstream&rto=4.0…``), which nobody typed. Here the text as written is
kept and only its secrets become ``****``: the values of the fields Apprise's plugin metadata
marks private (tokens, passwords, keys), plus whatever Apprise's privacy mode hides, so a plugin
with an unusual field is masked anyway.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, cast
from urllib.parse import parse_qsl, unquote, urlencode

import apprise

from app.logs import MASK, forms

MIN_PIECE_CHARS = 6  # pieces of a URL shorter than this are ports, paths and words, not secrets
_PIECES = re.compile(r"[/:@?&=,;#+\s]+")


def plugin_url(plugin: apprise.NotifyBase, *, privacy: bool = False) -> str:
    """Apprise's own form of the plugin's URL; ``privacy`` masks its secrets."""
    url = cast(Callable[..., str], plugin.url)
    return url(privacy=privacy)


def private_fields(plugin: apprise.NotifyBase) -> set[str]:
    """The plugin's attribute names that hold a secret, as Apprise's metadata declares them."""
    names: set[str] = set()
    tables: Iterable[dict[str, dict[str, Any]]] = (plugin.template_tokens, plugin.template_args)
    for table in tables:
        for name, spec in table.items():
            if spec.get("private"):
                names.add(str(spec.get("map_to") or name))
    return names


def private_values(plugin: apprise.NotifyBase) -> set[str]:
    """What the plugin holds in its private fields (and the URL's password, always secret)."""
    found: set[str] = set()
    for name in private_fields(plugin) | {"password"}:
        value = getattr(plugin, name, None)
        values = value if isinstance(value, list | tuple) else (value,)
        found.update(v for v in values if isinstance(v, str) and v)
    return found


def pieces(text: str) -> Iterator[str]:
    """The sizeable pieces of a URL's ``text``, each as written and unquoted: where a secret
    may hide when which part holds one is not known."""
    for piece in _PIECES.split(text):
        for candidate in (piece, unquote(piece)):
            if len(candidate) >= MIN_PIECE_CHARS:
                yield candidate


def hidden_pieces(url: str, masked: str) -> set[str]:
    """The sizeable pieces of ``url`` (Apprise's unmasked form) its masked form leaves out."""
    shown = f"{masked} {unquote(masked)}"
    return {piece for piece in pieces(url) if piece not in shown}


def secrets_of(plugin: apprise.NotifyBase) -> tuple[str, ...]:
    """Every secret the plugin's URL carries, longest first (so no part is left half-masked)."""
    found = private_values(plugin) | hidden_pieces(
        plugin_url(plugin), plugin_url(plugin, privacy=True)
    )
    return tuple(sorted(found, key=len, reverse=True))


def mask_text(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        for form in forms(secret):
            text = text.replace(form, MASK)
    return text


def as_written(url: str, plugin: apprise.NotifyBase, secrets: Sequence[str] | None = None) -> str:
    """``url`` as typed, its secrets masked: what the pages show of a target. ``secrets``: the
    plugin's (``secrets_of``) when the caller has them already; finding them renders the
    plugin's URL twice."""
    return mask_text(url.strip(), secrets_of(plugin) if secrets is None else secrets)


def without_defaults(plugin: apprise.NotifyBase, asset: apprise.AppriseAsset) -> str:
    """Apprise's masked URL without the query options it adds by itself, for targets read from
    APPRISE_CONFIG (the file's own text is not at hand). An option stays when its value differs
    from what the same URL without any options gives."""
    masked = plugin_url(plugin, privacy=True)
    base, _, query = masked.partition("?")
    if not query:
        return masked
    bare = apprise.Apprise.instantiate(plugin_url(plugin).partition("?")[0], asset=asset)
    defaults = dict(parse_qsl(plugin_url(bare).partition("?")[2])) if bare is not None else {}
    kept = [(k, v) for k, v in parse_qsl(query) if defaults.get(k) != v]
    return f"{base}?{urlencode(kept, safe='*')}" if kept else base
