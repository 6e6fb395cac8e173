"""Sign in, sign out, first-run setup (with the code from the server log), password change."""

from __future__ import annotations

import logging

from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.web import store
from app.web.auth import MIN_PASSWORD_LENGTH, hash_password, request_ip
from app.web.context import Web, flash, redirect, safe_next, web

log = logging.getLogger(__name__)


class AlreadySetUp(RuntimeError):
    pass


def _sign_in(request: Request, app: Web, user: str) -> None:
    # A fresh session (and CSRF token) at login: nothing chosen before it carries over.
    request.session.clear()
    request.session.update(user=user, fp=app.credentials.fingerprint())


async def _end_every_session(app: Web, password_hash: str | None = None) -> None:
    """A new session secret (with the new password, in the same transaction): every cookie
    signed before, wherever it was copied to, stops working. The fingerprint in each session is
    keyed with the secret too, so a request in flight that outlives the change cannot carry a
    signed-in session over into a cookie signed with the new secret.
    """
    secret = store.new_session_secret()

    def save(connection: Connection) -> None:
        if password_hash is not None:
            store.put(connection, store.ADMIN_PASSWORD_HASH, password_hash)
        store.save_session_secret(connection, secret)

    await app.db.writer.run(save)
    if password_hash is not None:
        app.credentials.use_stored_hash(password_hash)
    app.credentials.session_secret = secret


def _too_many(request: Request, app: Web, wait: int, page: str) -> Response:
    context = {
        "error": f"Too many failed attempts. Try again in {wait} seconds.",
        "next": safe_next(request.query_params.get("next")),
        **_setup_context(app),
    }
    return app.render(request, page, context, status=429, headers={"Retry-After": str(wait)})


def _setup_context(app: Web) -> dict[str, object]:
    return {"username": app.credentials.username, "min_length": MIN_PASSWORD_LENGTH}


def login_page(request: Request) -> Response:
    app = web(request)
    if app.settings.auth == "none":
        return redirect("/")
    if not app.credentials.configured:
        return redirect("/setup")
    target = safe_next(request.query_params.get("next"))
    context = {"error": "", "next": target, "username": app.credentials.username}
    return app.render(request, "login.html", context)


async def login(request: Request) -> Response:
    app = web(request)
    if app.settings.auth == "none" or not app.credentials.configured:
        return redirect("/")
    form = await request.form()
    ip = request_ip(request, app.settings)
    target = safe_next(str(form.get("next", "")))
    wait = app.throttle.retry_after(ip)
    if wait:
        log.warning("sign-in refused: %s is locked out for %d s more", ip, wait)
        return await run_in_threadpool(_too_many, request, app, wait, "login.html")
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    if await run_in_threadpool(app.credentials.verify, username, password):
        app.throttle.succeeded(ip)
        _sign_in(request, app, app.credentials.username)
        log.info("signed in from %s", ip)
        return redirect(target)
    app.throttle.failed(ip)
    log.warning("failed sign-in from %s", ip)  # never the name or password tried
    context = {"error": "Wrong username or password.", "next": target, "username": username}
    return await app.render_async(request, "login.html", context, status=401)


async def logout(request: Request) -> Response:
    """Ends every session, not only this browser's: a copy of the cookie (a shared computer, a
    stolen backup) must not outlive the sign-out. Only a password session does this; the route
    is behind the sign-in wall and CSRF, so a stranger cannot sign the owner out or cause a write.
    """
    app = web(request)
    signed_in = bool(request.session.get("user"))
    request.session.clear()
    if signed_in:
        await _end_every_session(app)
        log.info("signed out: every session ended")
        flash(request, "Signed out, on every device.")
    return redirect("/login")


def setup_page(request: Request) -> Response:
    app = web(request)
    if app.settings.auth == "none" or app.credentials.configured:
        return redirect("/login")
    return app.render(request, "setup.html", {"error": "", **_setup_context(app)})


async def setup(request: Request) -> Response:
    app = web(request)
    if app.settings.auth == "none" or app.credentials.configured:
        return redirect("/login")
    form = await request.form()
    ip = request_ip(request, app.settings)
    wait = app.throttle.retry_after(ip)
    if wait:
        return await run_in_threadpool(_too_many, request, app, wait, "setup.html")
    password = str(form.get("password", ""))
    error = ""
    if not app.credentials.check_setup_code(str(form.get("code", ""))):
        app.throttle.failed(ip)
        log.warning("wrong setup code from %s", ip)
        error = "That setup code is not the one in the server log."
    elif len(password) < MIN_PASSWORD_LENGTH:
        error = f"Choose a password of at least {MIN_PASSWORD_LENGTH} characters."
    elif password != str(form.get("confirm", "")):
        error = "The two passwords differ."
    if error:
        context = {"error": error, **_setup_context(app)}
        return await app.render_async(request, "setup.html", context, status=400)

    hashed = await run_in_threadpool(hash_password, password)

    def save(connection: Connection) -> None:
        if store.get(connection, store.ADMIN_PASSWORD_HASH):
            raise AlreadySetUp  # someone else finished setup a moment ago
        store.put(connection, store.ADMIN_PASSWORD_HASH, hashed)

    try:
        await app.db.writer.run(save)
    except AlreadySetUp:
        return redirect("/login")
    app.credentials.use_stored_hash(hashed)
    app.throttle.succeeded(ip)
    _sign_in(request, app, app.credentials.username)
    log.info("admin password chosen on the setup page from %s", ip)
    flash(request, "Password saved. Next: connect Hello Client, step by step (any step can wait).")
    return redirect("/welcome")


async def change_password(request: Request) -> Response:
    app = web(request)
    if app.credentials.from_environment or app.settings.auth == "none":
        flash(request, "The password comes from INBOX_PASSWORD: change it there.", "error")
        return redirect("/status#account")
    form = await request.form()
    ip = request_ip(request, app.settings)
    current, new = str(form.get("current", "")), str(form.get("password", ""))
    ok = await run_in_threadpool(app.credentials.verify, app.credentials.username, current)
    if app.throttle.retry_after(ip) or not ok:
        app.throttle.failed(ip)
        flash(request, "The current password is not right.", "error")
    elif len(new) < MIN_PASSWORD_LENGTH or new != str(form.get("confirm", "")):
        flash(
            request, f"New passwords must match and be {MIN_PASSWORD_LENGTH}+ characters.", "error"
        )
    else:
        hashed = await run_in_threadpool(hash_password, new)
        await _end_every_session(app, hashed)
        # Every other session ended with the old secret; this browser gets a new one, signed
        # with the new secret, so whoever changed the password stays signed in.
        _sign_in(request, app, app.credentials.username)
        flash(request, "Password changed. Every other session is signed out.")
    return redirect("/status#account")


ROUTES = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/setup", setup_page, methods=["GET"]),
    Route("/setup", setup, methods=["POST"]),
    Route("/account/password", change_password, methods=["POST"]),
]
