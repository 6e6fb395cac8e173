"""What queries and handlers raise when a request cannot be answered as asked.

Raised anywhere below a handler and answered once, in ``error_pages.EXCEPTION_HANDLERS``: a page
for a browser, ``{"status":"error","error":…}`` for the API. The message is what the person reads.
"""

from __future__ import annotations


class NotFound(LookupError):
    """No such thing (a lead, a delivery, a chat log…): answered 404."""


class BadParameter(ValueError):
    """A query parameter we cannot use: answered 400. The message names the parameter."""
