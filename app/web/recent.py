"""What a redirect hands to the page after it when a flash cannot carry it (post/redirect/get).

``Recent`` keeps values in this process, bounded and short-lived (a restart loses them, and the
page then shows without them), each found by a random token. ``OneTime`` puts that token in the
session instead of the URL and hands the value back once: for what must not travel in a signed,
unencrypted cookie or in a URL (a new signing secret), and for what a reload must not show again.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

SESSION_KEY = "once"  # slot -> token; never the value itself


class Recent:
    """Values for the next page, each under a random token: bounded, short-lived, in-process."""

    def __init__(self, size: int = 100, seconds: float = 600) -> None:
        self.size, self.seconds = size, seconds
        self._items: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, value: Any) -> str:
        token = secrets.token_urlsafe(12)
        with self._lock:
            self._items[token] = (time.monotonic(), value)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return token

    def get(self, token: str) -> Any:
        with self._lock:
            found = self._items.get(token)
        return self._fresh(found)

    def take(self, token: str) -> Any:
        """Like ``get``, but the value is forgotten: no second page shows it."""
        with self._lock:
            found = self._items.pop(token, None)
        return self._fresh(found)

    def _fresh(self, found: tuple[float, Any] | None) -> Any:
        if found is None or time.monotonic() - found[0] > self.seconds:
            return None
        return found[1]


@dataclass(frozen=True)
class Handed:
    promised: bool  # a value was put for this session's next page
    value: Any  # None when it was lost meanwhile (a restart, too late, evicted)

    @property
    def lost(self) -> bool:
        return self.promised and self.value is None


class OneTime:
    """One value per slot for the next page of this session, handed back once."""

    def __init__(self, slot: str, recent: Recent) -> None:
        self.slot, self.recent = slot, recent

    def put(self, request: Request, value: Any) -> None:
        tokens = dict(request.session.get(SESSION_KEY) or {})
        replaced = tokens.get(self.slot)
        if replaced:
            self.recent.take(str(replaced))
        tokens[self.slot] = self.recent.put(value)
        request.session[SESSION_KEY] = tokens

    def take(self, request: Request) -> Handed:
        tokens = dict(request.session.get(SESSION_KEY) or {})
        token = tokens.pop(self.slot, None)
        if token is None:
            return Handed(False, None)
        if tokens:
            request.session[SESSION_KEY] = tokens
        else:
            request.session.pop(SESSION_KEY, None)
        return Handed(True, self.recent.take(str(token)))
