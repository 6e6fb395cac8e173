"""Address sanity: the webhook URL shown to paste into Hello Client, and a plain warning for
each reason Hello Client (a cloud service) could not reach it: loopback, private ranges,
link-local, carrier-grade NAT, names only a home network knows, and plain http.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from conftest import INBOX_PASSWORD, AppProcess, inbox_client

from app.web.address import GUIDE, REACHABLE, TUNNEL, classify

WARNINGS = re.compile(r'<li data-kind="([a-z-]+)">')


def kinds(url: str) -> list[str]:
    return [warning.kind for warning in classify(url)]


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:8080/webhook",
        "https://127.8.9.10/webhook",
        "https://[::1]:8080/webhook",
        "https://localhost:8080/webhook",
        "https://inbox.localhost/webhook",
        "https://0.0.0.0:8080/webhook",
        "https://LOCALHOST./webhook",
    ],
)
def test_loopback(url: str) -> None:
    assert kinds(url) == ["loopback"]
    assert "their own machine" in classify(url)[0].text


@pytest.mark.parametrize(
    "url",
    [
        "https://10.1.2.3/webhook",
        "https://172.16.0.1/webhook",
        "https://172.31.255.254/webhook",
        "https://192.168.1.10:8080/webhook",
        "https://[fd12:3456::1]/webhook",
        "https://[::ffff:192.168.1.10]/webhook",
    ],
)
def test_private_ranges(url: str) -> None:
    assert kinds(url) == ["private"]
    assert "private (LAN) address" in classify(url)[0].text


@pytest.mark.parametrize("url", ["https://169.254.10.20/webhook", "https://[fe80::1]/webhook"])
def test_link_local(url: str) -> None:
    assert kinds(url) == ["link-local"]


@pytest.mark.parametrize("url", ["https://100.64.0.1/webhook", "https://100.127.255.254/webhook"])
def test_carrier_grade_nat_points_to_the_tunnel(url: str) -> None:
    (warning,) = classify(url)
    assert warning.kind == "cgnat"
    assert "no public IP" in warning.text
    assert warning.section == TUNNEL


@pytest.mark.parametrize(
    "url",
    [
        "https://nas.local/webhook",
        "https://nas.lan:8080/webhook",
        "https://inbox.home.arpa/webhook",
        "https://nas/webhook",
        "https://NAS.Local./webhook",
    ],
)
def test_names_only_a_home_network_knows(url: str) -> None:
    assert kinds(url) == ["local-name"]
    assert "only your home network knows" in classify(url)[0].text


def test_documentation_range_is_not_public() -> None:
    assert kinds("https://203.0.113.5/webhook") == ["reserved"]


def test_plain_http_to_a_public_name() -> None:
    (warning,) = classify("http://inbox.example.com/webhook")
    assert warning.kind == "http"
    assert "unencrypted" in warning.text and warning.section == REACHABLE


def test_each_problem_gets_its_own_warning() -> None:
    assert kinds("http://192.168.1.10/webhook") == ["private", "http"]
    assert kinds("http://127.0.0.1:8080/webhook") == ["loopback", "http"]


@pytest.mark.parametrize(
    "url",
    [
        "https://inbox.example.com/webhook",
        "https://inbox.example.com:8443/webhook",
        "https://172.32.0.1/webhook",  # just past 172.16.0.0/12
        "https://100.128.0.1/webhook",  # just past 100.64.0.0/10
        "https://[2001:4860:4860::8888]/webhook",
    ],
)
def test_public_https_addresses_get_no_warning(url: str) -> None:
    assert classify(url) == ()


@pytest.mark.parametrize("url", ["ftp://inbox.example.com/webhook", "inbox.example.com", ""])
def test_not_an_http_address(url: str) -> None:
    assert kinds(url) == ["unparsable"]


# ---- on the real status page -------------------------------------------------------------


def status_page(app: AppProcess, headers: dict[str, str] | None = None) -> str:
    browser = inbox_client(app)
    try:
        page = browser.client.get("/status", headers=headers or {})
        assert page.status_code == 200
        return page.text
    finally:
        browser.client.close()


def test_status_page_warns_for_a_private_http_base_url(make_app: Callable[..., AppProcess]) -> None:
    app = make_app(INBOX_PASSWORD=INBOX_PASSWORD, BASE_URL="http://192.168.1.10")
    page = status_page(app)
    assert 'value="http://192.168.1.10/webhook"' in page
    assert "Hello Client cannot use this address as it is" in page
    assert WARNINGS.findall(page) == ["private", "http"]
    assert "192.168.1.10 is a private (LAN) address" in page
    assert GUIDE in page


def test_status_page_has_no_warning_for_a_public_https_base_url(
    make_app: Callable[..., AppProcess],
) -> None:
    app = make_app(INBOX_PASSWORD=INBOX_PASSWORD, BASE_URL="https://inbox.example.com")
    page = status_page(app)
    assert 'value="https://inbox.example.com/webhook"' in page
    assert "cannot use this address" not in page
    assert WARNINGS.findall(page) == []


def test_without_base_url_the_address_follows_a_trusted_proxy(
    make_app: Callable[..., AppProcess],
) -> None:
    """X-Forwarded-Host/Proto are believed from TRUSTED_PROXIES only, as X-Forwarded-For is."""
    proxied = {"X-Forwarded-Host": "inbox.example.com", "X-Forwarded-Proto": "https"}
    trusting = make_app(INBOX_PASSWORD=INBOX_PASSWORD, TRUSTED_PROXIES="127.0.0.1")
    page = status_page(trusting, proxied)
    assert 'value="https://inbox.example.com/webhook"' in page
    assert "Taken from the address of this page" in page
    assert WARNINGS.findall(page) == []

    other = make_app(INBOX_PASSWORD=INBOX_PASSWORD, TRUSTED_PROXIES="10.9.9.9")
    page = status_page(other, proxied)
    assert f'value="{other.url}/webhook"' in page
    assert WARNINGS.findall(page) == ["loopback", "http"]


def test_a_host_header_that_is_no_host_is_not_shown(make_app: Callable[..., AppProcess]) -> None:
    app = make_app(INBOX_PASSWORD=INBOX_PASSWORD)
    browser = inbox_client(app)
    cookies = dict(browser.client.cookies)
    page = httpx.get(
        f"{app.url}/status", headers={"Host": 'evil"><b>x'}, cookies=cookies, timeout=30
    )
    browser.client.close()
    assert page.status_code == 200
    assert 'evil"' not in page.text and "<b>x" not in page.text
    assert f'value="http://127.0.0.1:{app.port}/webhook"' in page.text
