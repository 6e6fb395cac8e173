"""POST /webhook: refuse what we cannot trust, store the rest durably, then say success.

The answer ``{"status":"success"}`` is the vendor's only signal that it may forget a delivery, so
it is given only after the commit holding the raw body; anything that stops that commit answers
503, which the vendor retries. Refusals get a 4xx with a JSON reason, and unsigned or unverifiable
bodies are kept in a bounded quarantine for an admin to judge.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from app.accept_group import Accepting
from app.bodies import BadRequest, BodyTooLarge, UnsupportedEncoding, is_identity, read_body
from app.clientip import client_ip, in_networks, parse_ip
from app.config import Settings
from app.db import Database, StorageUnavailable
from app.deliveries import (
    UNSIGNED_ALLOWED_IP,
    Attempt,
    QuarantineLimits,
    Stored,
    Verification,
    store_refusal,
)
from app.live_settings import LiveSettings
from app.models import utcnow
from app.ratelimit import RateLimit
from app.restringify import restringify_into
from app.shapes import SUCCESS
from app.signature import (
    HEADER,
    NO_MATCH,
    Match,
    MissingSignature,
    SignatureError,
    SignatureHeader,
    fresh,
    match_raw,
    match_stringified,
    parse_headers,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

THREAD_THRESHOLD = 256 * 1024  # hashing more than this would stall the event loop noticeably
REFUSAL_LOG_PER_MINUTE = 600


def error(status_code: int, message: str) -> JSONResponse:
    return JSONResponse({"status": "error", "error": message}, status_code=status_code)


class Webhook:
    def __init__(
        self,
        live: LiveSettings,
        db: Database,
        store: Callable[[Accepting], Awaitable[Stored]],
        on_pending: Callable[[], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        # Keys, allowlist, policy and tolerance may change from the browser: each request reads
        # ``live.current`` once. The rest is the environment's, fixed for the process.
        self.live = live
        settings = live.environment
        self.db = db
        self.store = store  # the ingest process, or the writer thread when it does not run
        self.on_pending = on_pending
        self.clock = clock
        # The JavaScript form of a large body is computed one at a time: it is the one step whose
        # cost a stranger chooses (CPU, and a little memory), and four at once starved the rest.
        self.stringify_turn = asyncio.Lock()
        self.quarantine_rate = RateLimit(settings.quarantine_rate_per_minute, 60)
        self.refusal_log_rate = RateLimit(REFUSAL_LOG_PER_MINUTE, 60)
        self.quarantine_limits = QuarantineLimits(
            settings.quarantine_max_items,
            settings.quarantine_max_bytes,
            settings.quarantine_item_max_bytes,
        )

    async def get(self, request: Request) -> Response:
        return error(405, "this is the Hello Client webhook endpoint: it accepts POST only")

    async def post(self, request: Request) -> Response:
        try:
            return await self._handle(request)
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is listening for the answer
        except Exception:
            log.exception("webhook failed unexpectedly; answered 503 so the vendor retries")
            return error(503, "internal error: the delivery was not stored; it will be retried")

    async def _handle(self, request: Request) -> Response:
        settings = self.live.current
        peer = request.client.host if request.client else None
        ip = client_ip(peer, request.headers.get("x-forwarded-for"), settings.trusted_proxies)
        signature_headers = "\n".join(request.headers.getlist(HEADER)) or None
        attempt = Attempt(
            utcnow(), ip, request.headers.get("content-type"), b"", None, signature_headers
        )
        allowed = in_networks(parse_ip(ip), settings.allowed_networks)

        if settings.allowed_networks and not allowed:
            body = await self._read_some(request)
            return await self._refuse(
                replace(attempt, body=body),
                settings,
                403,
                f"client IP {ip} is not in WEBHOOK_ALLOWED_IPS",
            )
        try:
            attempt = replace(attempt, body=await read_body(request, settings.max_body_bytes))
        except BodyTooLarge:
            limit = settings.max_body_bytes // (1024 * 1024)
            reason = f"body larger than MAX_BODY_MB ({limit} MB)"
            if not is_identity(request.headers.get("content-encoding")):
                reason += " once decompressed"
            return await self._refuse(attempt, settings, 413, reason)
        except UnsupportedEncoding as exc:
            return await self._refuse(attempt, settings, 415, str(exc))
        except BadRequest as exc:
            return await self._refuse(attempt, settings, 400, str(exc))

        if not settings.signing_keys:
            return await self._refuse(
                attempt,
                settings,
                503,
                "no Sign Key configured: add the Sign Key shown in Hello Client's Webhook tab "
                "under Settings (or set WEBHOOK_SIGNING_KEY)",
                quarantine=True,
            )
        try:
            headers = parse_headers(request.headers.getlist(HEADER))
        except MissingSignature as exc:
            if settings.unsigned_events == "accept-from-allowed-ips" and allowed:
                return await self._accept(attempt, Verification(form=UNSIGNED_ALLOWED_IP))
            return await self._refuse(attempt, settings, 401, str(exc), quarantine=True)
        except SignatureError as exc:
            return await self._refuse(attempt, settings, 401, str(exc), quarantine=True)

        attempt = replace(attempt, signature_timestamp=int(headers[0].timestamp))
        try:
            match = await self._verify(headers, attempt.body, settings)
        except SignatureError as exc:
            return await self._refuse(attempt, settings, 401, str(exc), quarantine=True)
        return await self._accept(attempt, _verification(match))

    async def _verify(
        self, headers: tuple[SignatureHeader, ...], body: bytes | bytearray, settings: Settings
    ) -> Match:
        """Cheapest first (``app.signature``): the clock, the raw bytes, the JavaScript form."""
        keys = settings.signing_keys
        within = fresh(headers, now=self.clock(), tolerance_seconds=settings.tolerance_seconds)
        match = await self._in_thread_if_large(body, lambda: match_raw(within, keys, body))
        if match is None:
            if len(body) <= THREAD_THRESHOLD:
                match = match_stringified(within, keys, body, restringify_into)
            else:
                async with self.stringify_turn:
                    match = await run_in_threadpool(
                        match_stringified, within, keys, body, restringify_into
                    )
        if match is None:
            raise SignatureError(NO_MATCH)
        return match

    async def _accept(self, attempt: Attempt, verification: Verification) -> Response:
        sha256 = await self._in_thread_if_large(
            attempt.body, lambda: hashlib.sha256(attempt.body).hexdigest()
        )
        try:
            # An item of a group: the deliveries queued together are stored by one call.
            stored = await self.store(Accepting(attempt, verification, sha256))
        except StorageUnavailable as exc:
            log.error("delivery from %s not stored: %s; answered 503", attempt.client_ip, exc)
            return error(503, f"storage unavailable ({exc}); the delivery will be retried")
        if stored.pending:
            self.on_pending()
        return Response(SUCCESS, media_type="application/json")

    async def _refuse(
        self,
        attempt: Attempt,
        settings: Settings,
        status_code: int,
        reason: str,
        *,
        quarantine: bool = False,
    ) -> Response:
        log.warning("webhook refused (%d) from %s: %s", status_code, attempt.client_ip, reason)
        quarantine = quarantine and settings.unsigned_events != "reject"
        if quarantine and not self.quarantine_rate.take():
            quarantine = False
            reason += " (quarantine rate limit reached: only logged)"
        if quarantine or self.refusal_log_rate.take():
            limits = self.quarantine_limits if quarantine else None
            try:
                await self.db.writer.run(
                    lambda c: store_refusal(
                        c, attempt, status_code=status_code, reason=reason, quarantine=limits
                    )
                )
            except StorageUnavailable as exc:
                if quarantine:
                    return error(503, f"storage unavailable ({exc}); retry later")
        return error(status_code, reason)

    async def _read_some(self, request: Request) -> bytes:
        """The start of a refused body, for the log; the rest is not worth receiving."""
        body = bytearray()
        try:
            async for chunk in request.stream():
                body += chunk
                if len(body) >= 4096:
                    break
        except ClientDisconnect:
            pass
        return bytes(body[:4096])

    @staticmethod
    async def _in_thread_if_large(body: bytes | bytearray, work: Callable[[], T]) -> T:
        if len(body) > THREAD_THRESHOLD:
            return await run_in_threadpool(work)
        return work()


def _verification(match: Match) -> Verification:
    return Verification(match.form, match.key_number, match.key_fingerprint)
