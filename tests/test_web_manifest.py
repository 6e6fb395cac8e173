"""The installable app, from the server's side: the web manifest and the service worker answer
without a login (browsers fetch the manifest without cookies), name the app and its icons, the
icons are PNGs of the sizes stated, and nothing else opened up: every page still needs a login.
"""

from __future__ import annotations

import httpx
import pytest
from conftest import AppProcess, inbox_client, png_size


@pytest.fixture(scope="module")
def anonymous(inbox_app: AppProcess) -> httpx.Client:
    return httpx.Client(base_url=inbox_app.url, timeout=30)


def test_the_manifest_answers_without_a_login_and_describes_the_app(
    anonymous: httpx.Client,
) -> None:
    answer = anonymous.get("/manifest.webmanifest")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/manifest+json")
    manifest = answer.json()
    assert manifest["name"] == "Hello Client inbox"
    assert manifest["short_name"] == "Inbox"
    assert manifest["start_url"] == "/" and manifest["scope"] == "/"
    assert manifest["display"] == "standalone"
    for colour in ("background_color", "theme_color"):
        assert manifest[colour].startswith("#") and len(manifest[colour]) == 7


def test_every_png_icon_is_the_size_the_manifest_states(anonymous: httpx.Client) -> None:
    icons = anonymous.get("/manifest.webmanifest").json()["icons"]
    found: set[tuple[str, str]] = set()
    for icon in icons:
        answer = anonymous.get(icon["src"])  # no session: an installing browser has none
        assert answer.status_code == 200, icon
        assert answer.headers["content-type"] == icon["type"], icon
        if icon["type"] == "image/png":
            width, height = png_size(answer.content)
            assert icon["sizes"] == f"{width}x{height}", icon
            found.add((icon["purpose"], icon["sizes"]))
    assert {("any", "192x192"), ("any", "512x512"), ("maskable", "512x512")} <= found


def test_pages_link_the_manifest_touch_icon_and_theme_colours(inbox_app: AppProcess) -> None:
    browser = inbox_client(inbox_app)
    page = browser.get("/").text
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
    for colour, scheme in (("#ffffff", "light"), ("#171c23", "dark")):
        media = f"(prefers-color-scheme: {scheme})"
        assert f'<meta name="theme-color" content="{colour}" media="{media}">' in page
    touch = page.split('<link rel="apple-touch-icon" href="', 1)[1].split('"', 1)[0]
    answer = httpx.get(f"{inbox_app.url}{touch}")
    assert answer.headers["content-type"] == "image/png"
    assert png_size(answer.content) == (180, 180)
    browser.client.close()


def test_the_service_worker_is_public_and_allowed_by_the_policy(anonymous: httpx.Client) -> None:
    worker = anonymous.get("/sw.js")
    assert worker.status_code == 200
    assert worker.headers["content-type"].startswith("text/javascript")
    assert "/static/offline.html" in worker.text
    offline = anonymous.get("/static/offline.html")
    assert offline.status_code == 200 and "You are offline" in offline.text
    policy = worker.headers["content-security-policy"]
    assert "worker-src 'self'" in policy and "manifest-src 'self'" in policy


def test_nothing_else_opened_up(anonymous: httpx.Client) -> None:
    for path in ("/", "/leads/1", "/status", "/settings/notifications", "/manifest.json"):
        answer = anonymous.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login"), path
    # Only the exact paths are public, not what merely starts like them.
    for path in ("/sw.js/x", "/manifest.webmanifest/x", "/sw.jsx"):
        answer = anonymous.get(path)
        assert answer.status_code == 303, path
