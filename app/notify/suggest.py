"""What a person probably meant when Apprise cannot use the URL they typed.

``ntfy.sh/mytopic`` (no scheme), ``ntfys//…`` or ``tgram:/…`` (a mangled ``://``), ``telegram://``
(the service's name, not its scheme), ``mialto://`` (a typo), ``https://ntfy.example.com/alerts``
(a web address Apprise does not recognise by itself). Each guess is only offered when Apprise
accepts it, so a suggestion always works.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from functools import cache
from typing import NamedTuple

import apprise

from app.notify.targets import instantiate, plugins

MAX_SUGGESTIONS = 3
# Names people type for a service, and the scheme Apprise knows it by.
ALIASES = {
    "telegram": "tgram",
    "pushover": "pover",
    "email": "mailtos",
    "mail": "mailtos",
    "smtp": "mailtos",
    "smtps": "mailtos",
    "homeassistant": "hassios",
    "hass": "hassios",
    "ha": "hassios",
    "mattermost": "mmosts",
    "signal": "signal",
    "gotify": "gotifys",
}
# A scheme followed by a mangled "://": "ntfys//x", "tgram:/x", "mailto:x", "ntfy;//x", "ntfy:\\x"
_MANGLED = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)\s*(?:[:;]+[/\\]*|[/\\]{1,3})\s*(.+)$", re.S)
_HOST_PATH = re.compile(r"^[\w.-]+\.[A-Za-z]{2,}(?::\d+)?(?:/.*)?$")


class Suggestion(NamedTuple):
    url: str  # holds what the person typed, secrets included
    plugin: apprise.NotifyBase  # what Apprise made of ``url``


@cache
def schemas() -> frozenset[str]:
    """Every scheme the installed Apprise knows."""
    return frozenset(str(name).lower() for name in plugins().schemas())


def _schema_for(word: str, *, close: bool) -> list[str]:
    """Schemes ``word`` may stand for: itself, its alias, and (``close``) near spellings."""
    word = word.lower()
    found = [word] if word in schemas() else []
    if word in ALIASES:
        found.append(ALIASES[word])
    if close and not found:
        found += difflib.get_close_matches(word, sorted(schemas()), n=2, cutoff=0.75)
    return list(dict.fromkeys(found))


def _guesses(url: str) -> Iterator[str]:
    text = url.strip()
    scheme, sep, rest = text.partition("://")
    if sep:
        for schema in _schema_for(scheme, close=True):
            yield f"{schema}://{rest}"
        if scheme.lower() in ("http", "https"):
            secure = scheme.lower() == "https"
            yield f"{'ntfys' if secure else 'ntfy'}://{rest}"  # a self-hosted ntfy server
            yield f"{'jsons' if secure else 'json'}://{rest}"  # any web hook taking JSON
        return
    mangled = _MANGLED.match(text)
    if mangled:
        word, rest = mangled.groups()
        # "ntfy.sh/x" also looks like scheme + "/": only a known word counts after a slash.
        for schema in _schema_for(word, close=":" in text[: len(word) + 2]):
            yield f"{schema}://{rest.lstrip('/')}"
    if _HOST_PATH.match(text):
        if "ntfy" in text.partition("/")[0].lower():
            yield f"ntfys://{text}"
        yield f"https://{text}"  # a service's own web address, which Apprise may know


def suggestions(url: str, asset: apprise.AppriseAsset) -> list[Suggestion]:
    """URLs Apprise accepts that ``url`` was probably meant to be, best first, each with the
    plugin Apprise made of it."""
    found: list[Suggestion] = []
    for guess in _guesses(url):
        if any(known.url == guess for known in found):
            continue
        plugin = instantiate(guess, asset)[0]
        if plugin is not None:
            found.append(Suggestion(guess, plugin))
        if len(found) == MAX_SUGGESTIONS:
            break
    return found
