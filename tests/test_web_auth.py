"""Sign-in, first-run setup, the auth wall over every route, CSRF, headers, login slowdown."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from conftest import (
    API_TOKEN,
    INBOX_PASSWORD,
    PUBLIC,
    SIGNING_KEY,
    AppProcess,
    claim,
    every_route,
    inbox_client,
)

TOKEN_ROUTES = {"/calendar.ics"}  # authenticated by their own token, checked below


def execute(app: AppProcess, sql: str, params: tuple[object, ...] = ()) -> None:
    """Write to the real database file as another program would (committed)."""
    connection = sqlite3.connect(app.db_path, timeout=10)
    with connection:
        connection.execute(sql, params)
    connection.close()


def test_no_route_answers_without_sign_in(inbox_app: AppProcess, tmp_path: Path) -> None:
    routes = list(every_route(tmp_path))
    assert len(routes) > 20  # the enumeration found the UI, not just the webhook
    anonymous = httpx.Client(base_url=inbox_app.url)
    public_seen = set()
    for method, path in routes:
        answer = anonymous.request(method, path)
        if path in PUBLIC or path.startswith("/static/"):
            public_seen.add(path)
            assert answer.status_code < 500, (method, path)
        elif path.startswith("/api/"):
            assert answer.status_code == 401, (method, path)
            assert answer.json()["status"] == "error"
        elif path in TOKEN_ROUTES:
            assert answer.status_code == 403, (method, path)
        else:
            assert answer.status_code == 303, (method, path, answer.status_code)
            assert answer.headers["location"].startswith("/login"), (method, path)
    assert public_seen == PUBLIC | {"/static/app.css"}


def test_sign_in_sets_a_safe_cookie_and_sign_out_ends_it(inbox_app: AppProcess) -> None:
    browser = inbox_client(inbox_app, signed_in=False)
    answer = browser.sign_in()
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # plain http: a Secure cookie would never come back
    assert browser.get("/").status_code == 200
    stolen = dict(browser.client.cookies)

    assert browser.post("/logout").status_code == 303
    assert browser.get("/").status_code == 303
    # Not only forgotten by the browser: a copy of the cookie is refused too (more, with other
    # devices, idle sessions and a new password, in test_web_sessions.py).
    assert httpx.get(f"{inbox_app.url}/", cookies=stolen).status_code == 303


def test_wrong_password_and_unknown_user_are_refused(inbox_app: AppProcess) -> None:
    browser = inbox_client(inbox_app, signed_in=False)
    wrong = browser.sign_in(password="not the password")
    assert wrong.status_code == 401
    assert "Wrong username or password" in wrong.text
    assert "not the password" not in wrong.text
    assert browser.sign_in(username="root").status_code == 401
    assert browser.get("/").status_code == 303


def test_next_parameter_returns_to_the_page_but_never_off_site(inbox_app: AppProcess) -> None:
    browser = inbox_client(inbox_app, signed_in=False)
    first = browser.get("/deliveries?view=refused")
    assert first.headers["location"] == "/login?next=%2Fdeliveries%3Fview%3Drefused"
    token = browser.csrf("/login")
    for target, expected in (
        ("/deliveries?view=refused", "/deliveries?view=refused"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
    ):
        answer = browser.client.post(
            "/login",
            data={
                "csrf_token": token,
                "username": "admin",
                "password": INBOX_PASSWORD,
                "next": target,
            },
        )
        assert answer.headers["location"] == expected
        token = browser.csrf("/login")


def test_repeated_failures_lock_the_address_out(make_app: Callable[..., AppProcess]) -> None:
    app = make_app(INBOX_PASSWORD=INBOX_PASSWORD)
    browser = inbox_client(app, signed_in=False)
    codes = [browser.sign_in(password=f"guess {n}").status_code for n in range(5)]
    assert codes == [401] * 5
    locked = browser.sign_in()  # even the right password, while locked out
    assert locked.status_code == 429
    assert 1 <= int(locked.headers["retry-after"]) <= 30
    assert "Too many failed attempts" in locked.text
    assert browser.get("/").status_code == 303
    assert "failed sign-in from 127.0.0.1" in app.log()
    assert "guess" not in app.log()


def test_every_form_post_needs_the_csrf_token(inbox_app: AppProcess, tmp_path: Path) -> None:
    browser = inbox_client(inbox_app)
    posts = [path for method, path in every_route(tmp_path) if method == "POST"]
    assert "/leads/1/status" in posts and "/logout" in posts
    for path in posts:
        if path == "/webhook":
            continue
        missing = browser.client.post(path, data={"status": "done", "body": "x"})
        forged = browser.client.post(path, data={"csrf_token": "forged", "body": "x"})
        assert missing.status_code == 403, path
        assert forged.status_code == 403, path
        assert "Form expired" in missing.text
    assert browser.get("/").status_code == 200  # still signed in: logout was refused too


def test_the_login_form_itself_needs_a_token(inbox_app: AppProcess) -> None:
    answer = httpx.post(
        f"{inbox_app.url}/login", data={"username": "admin", "password": INBOX_PASSWORD}
    )
    assert answer.status_code == 403


def test_pages_carry_security_headers_and_no_inline_script(inbox_app: AppProcess) -> None:
    browser = inbox_client(inbox_app)
    for path in ("/", "/login", "/conversations", "/deliveries", "/status", "/no-such-page"):
        answer = browser.get(path)
        csp = answer.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["cache-control"] == "no-store"
        scripts = re.findall(r"<script\b[^>]*>", answer.text)
        assert all('src="/static/' in tag for tag in scripts), (path, scripts)
        assert not re.search(r"\son[a-z]+\s*=", answer.text), path
        assert ' style="' not in answer.text


def test_friendly_404_and_no_traceback_on_500(inbox_app: AppProcess) -> None:
    browser = inbox_client(inbox_app)
    missing = browser.get("/leads/999999")
    assert missing.status_code == 404
    assert "Nothing here" in missing.text and "Back to the inbox" in missing.text
    # A row the page cannot render (corrupt JSON written by another program) gives a 500.
    execute(
        inbox_app,
        "INSERT INTO lead (serial_number, type, create_time_raw, content, session_id, uri, "
        "first_name, last_name, email, phone_number, status, received_at, extra) "
        "VALUES ('x', 'Lead', 'raw', '', 1, '', '', '', '', '', 'new', "
        "'2026-01-01 00:00:00', '{not json')",
    )
    lead_id = inbox_app.scalar("SELECT max(id) FROM lead")
    broken = browser.get(f"/leads/{lead_id}")
    assert broken.status_code == 500
    assert "Something went wrong" in broken.text
    assert "Traceback" not in broken.text and 'File "' not in broken.text
    assert "JSONDecodeError" in inbox_app.log()
    execute(inbox_app, "DELETE FROM lead WHERE id = ?", (lead_id,))


def test_first_run_setup_needs_the_code_from_the_log(make_app: Callable[..., AppProcess]) -> None:
    app = make_app()
    browser = inbox_client(app, signed_in=False)
    assert browser.get("/").headers["location"] == "/setup"
    assert browser.get("/login").headers["location"] == "/setup"
    code = app.setup_code()
    token = browser.csrf("/setup")
    form = {"csrf_token": token, "password": "a fine password", "confirm": "a fine password"}
    wrong = browser.client.post("/setup", data={**form, "code": "AAAA-BBBB-CCCC"})
    assert wrong.status_code == 400 and "not the one in the server log" in wrong.text
    short = browser.client.post("/setup", data={**form, "code": code, "password": "short"})
    assert short.status_code == 400
    done = browser.client.post("/setup", data={**form, "code": code.lower()})
    assert done.status_code == 303 and done.headers["location"] == "/welcome"
    assert browser.get("/").status_code == 200

    # The code was one-time; the password is stored hashed (argon2) and survives a restart.
    other = inbox_client(app, signed_in=False)
    assert other.get("/setup").headers["location"] == "/login"
    stored = app.scalar("SELECT value FROM app_setting WHERE key = 'admin_password_hash'")
    assert str(stored).startswith("$argon2id$") and "a fine password" not in app.log()
    app.restart()
    assert "setup code" not in app.log().split("Started server process")[-1]
    again = inbox_client(app, signed_in=False)
    assert again.sign_in(password="a fine password").status_code == 303
    assert browser.get("/").status_code == 200  # the session secret survived the restart too


def test_password_change_signs_out_other_sessions(make_app: Callable[..., AppProcess]) -> None:
    app = make_app()
    first, _ = claim(app, password="first password")
    second = inbox_client(app, signed_in=False)
    assert second.sign_in(password="first password").status_code == 303
    changed = first.post(
        "/account/password",
        {"current": "first password", "password": "second password", "confirm": "second password"},
    )
    assert changed.status_code == 303
    assert first.get("/").status_code == 200
    assert second.get("/").status_code == 303
    assert second.sign_in(password="second password").status_code == 303


def test_auth_none_opens_pages_with_a_warning_but_not_the_api(
    make_app: Callable[..., AppProcess],
) -> None:
    app = make_app(AUTH="none", API_TOKEN=API_TOKEN)
    page = httpx.get(f"{app.url}/")
    assert page.status_code == 200
    assert "Sign-in is off" in page.text
    assert httpx.get(f"{app.url}/api/leads").status_code == 401
    assert "AUTH=none" in app.log()


def behind(proxies: str, factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    """A server that believes the auth header and forwarded scheme only from ``proxies``."""
    env = {
        "WEBHOOK_SIGNING_KEY": SIGNING_KEY,
        "INBOX_PASSWORD": INBOX_PASSWORD,
        "AUTH_HEADER": "Remote-User",
        "TRUSTED_PROXIES": proxies,
    }
    app = AppProcess(factory.mktemp("proxied") / "data", env).start()
    yield app
    app.stop()


# Only read by the tests below (no sign-in, no writes), so one server each serves them all.
@pytest.fixture(scope="module")
def trusted_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    yield from behind("127.0.0.1/32", tmp_path_factory)  # the tests' own address


@pytest.fixture(scope="module")
def other_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    yield from behind("10.9.9.9", tmp_path_factory)  # not the tests' address


def test_auth_header_is_believed_only_from_trusted_proxies(
    trusted_proxy: AppProcess, other_proxy: AppProcess
) -> None:
    alice = {"Remote-User": "alice"}
    answer = httpx.get(f"{trusted_proxy.url}/status", headers=alice)
    assert answer.status_code == 200 and "Signed in as <strong>alice</strong>" in answer.text
    assert httpx.get(f"{other_proxy.url}/status", headers=alice).status_code == 303


def test_cookie_is_secure_behind_an_https_proxy(
    trusted_proxy: AppProcess, other_proxy: AppProcess, inbox_app: AppProcess
) -> None:
    https = {"X-Forwarded-Proto": "https"}
    answer = httpx.get(f"{trusted_proxy.url}/login", headers=https)
    assert "secure" in answer.headers["set-cookie"].lower()
    # Spoofed: sent by an address that is not a trusted proxy, or when no proxy is trusted.
    for spoofed in (other_proxy, inbox_app):
        plain = httpx.get(f"{spoofed.url}/login", headers=https)
        assert "secure" not in plain.headers["set-cookie"].lower()


def test_signing_key_is_never_in_a_page(inbox_app: AppProcess) -> None:
    browser = inbox_client(inbox_app)
    for path in ("/status", "/", "/deliveries"):
        text = browser.get(path).text
        assert SIGNING_KEY not in text and API_TOKEN not in text and INBOX_PASSWORD not in text
