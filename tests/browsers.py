"""Headless Chromium for the browser tests: Debian's package, driven by Playwright (never a
downloaded browser). Without it the tests skip on a developer's machine and fail in CI (``CI`` or
``REQUIRE_BROWSER`` set). ``conftest.browser`` is the module-scoped fixture built on this."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ARTIFACTS = Path(__file__).parent / "artifacts"  # screenshots, looked at by a person
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
]
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "laptop": {"width": 1280, "height": 800}}


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
