"""A webhook body read off the wire: bounded, and inflated as Express inflates it.

The vendor's sample receiver is Express with ``express.json()``, which accepts bodies sent with
``Content-Encoding: gzip``, ``deflate`` (zlib) or ``br`` and signs what they inflate to; so do we.
``MAX_BODY_MB`` bounds the body as inflated, checked while inflating: a zip bomb stops at the limit
plus one read, and the compressed bytes are never held whole.
"""

from __future__ import annotations

import zlib
from typing import Protocol

import brotli
from starlette.requests import Request

READ_PIECE = 64 * 1024  # compressed input handed to the inflater at once


class BodyTooLarge(Exception):
    pass


class BadRequest(Exception):
    """The body cannot be read as sent; the message says why (answered 400)."""


class UnsupportedEncoding(Exception):
    """A Content-Encoding we do not inflate (answered 415, as body-parser does)."""


class Inflater(Protocol):
    def feed(self, data: bytes, room: int) -> bytes:
        """What ``data`` inflates to; more than ``room`` bytes only when it does not fit."""

    def finish(self) -> None:
        """Raise ``BadRequest`` when the stream is incomplete."""


class _Zlib:
    def __init__(self, name: str, wbits: int) -> None:
        self.name = name
        self.wbits = wbits
        self.inflater = zlib.decompressobj(wbits)

    def feed(self, data: bytes, room: int) -> bytes:
        out = bytearray()
        try:
            while data and len(out) <= room:
                if self.inflater.eof:
                    if self.name != "gzip":
                        raise BadRequest(f"data after the end of the {self.name} stream")
                    self.inflater = zlib.decompressobj(self.wbits)  # gzip: another member
                out += self.inflater.decompress(data, room + 1 - len(out))
                inflater = self.inflater
                data = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
        except zlib.error as exc:
            raise BadRequest(f"body is not valid {self.name}: {exc}") from None
        return bytes(out)

    def finish(self) -> None:
        if not self.inflater.eof:
            raise BadRequest(f"body is not valid {self.name}: it ends before the stream does")


class _Brotli:
    def __init__(self) -> None:
        self.inflater = brotli.Decompressor()

    def feed(self, data: bytes, room: int) -> bytes:
        # The limit is checked before the output buffer grows, and it grows by doubling: asked
        # for up to 8 MB it gave 16 MB (and took 35 MB); a megabyte at a time overshoots less.
        step = min(room + 1, READ_PIECE * 16)
        # Then it is drained until it gives nothing more: it may say it can take more input
        # while it still holds output.
        out = bytearray()
        try:
            while len(out) <= room:
                more = self.inflater.process(data, output_buffer_limit=step)
                data = b""
                out += more
                if not more and self.inflater.can_accept_more_data():
                    break
        except brotli.error as exc:
            raise BadRequest(f"body is not valid br: {exc}") from None
        return bytes(out)

    def finish(self) -> None:
        if not self.inflater.is_finished():
            raise BadRequest("body is not valid br: it ends before the stream does")


def is_identity(content_encoding: str | None) -> bool:
    return (content_encoding or "").strip(" \t").lower() in ("", "identity")


def inflater_for(content_encoding: str | None) -> Inflater | None:
    """The inflater a Content-Encoding needs (None: the body is as it is)."""
    encoding = (content_encoding or "").strip(" \t").lower() or "identity"  # HTTP's whitespace
    if encoding == "identity":
        return None
    if encoding in ("gzip", "x-gzip"):
        return _Zlib("gzip", 16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return _Zlib("deflate", zlib.MAX_WBITS)  # zlib-wrapped, as Node's createInflate wants
    if encoding == "br":
        return _Brotli()
    raise UnsupportedEncoding(f"unsupported Content-Encoding {encoding[:40]!r}")


async def read_body(request: Request, limit: int) -> bytearray:
    """The body, inflated; ``BodyTooLarge`` past ``limit`` bytes (as sent or as inflated)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise BadRequest(f"Content-Length header is not a number: {declared[:40]!r}")
        if int(declared) > limit:
            raise BodyTooLarge
    inflater = inflater_for(request.headers.get("content-encoding"))
    body = bytearray()
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise BodyTooLarge
        if inflater is None:
            body += chunk
        else:
            for at in range(0, len(chunk), READ_PIECE):
                body += inflater.feed(chunk[at : at + READ_PIECE], limit - len(body))
                if len(body) > limit:
                    raise BodyTooLarge
    if inflater is not None and received:
        inflater.finish()
    return body  # not bytes(body): a 100 MB push would be held twice
