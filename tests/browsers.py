"""Headless Chromium for the browser tests: Debian's package, driven by Playwright (never a
downloaded browser). Without it the tests skip on a developer's machine and fail in CI (``CI`` or
``REQUIRE_BROWSER`` set). ``conftest.browser`` is the module-scoped fixture built on this;
``open_page`` and ``sign_in`` are how a test opens a page on it and signs in."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import INBOX_PASSWORD

ARTIFACTS = Path(__file__).parent / "artifacts"  # screenshots, looked at by a person
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
]
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "laptop": {"width": 1280, "height": 800}}


def open_page(browser: Any, viewport: dict[str, int], **options: Any) -> tuple[Any, Any, list[str]]:
    """A new context and page at ``viewport``: (context, page, the console's errors so far)."""
    context = browser.new_context(viewport=viewport, **options)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return context, page, errors


def sign_in(page: Any, url: str, password: str = INBOX_PASSWORD) -> None:
    """Through the login form, as a person does, to the inbox."""
    page.goto(f"{url}/login")
    page.fill("input[name=password]", password)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{url}/")


def missing(reason: str) -> None:
    if os.environ.get("CI") or os.environ.get("REQUIRE_BROWSER"):
        pytest.fail(f"browser tests are required here: {reason}")
    pytest.skip(reason)


def chromium_path() -> str | None:
    for candidate in ("chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def launched_chromium() -> Iterator[Any]:
    """One Chromium for as long as the generator is open."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright package is not installed (pip install -e '.[test]')")
    executable = chromium_path()
    if executable is None:
        missing("Chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
