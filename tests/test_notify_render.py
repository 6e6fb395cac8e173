"""A hostile lead survives every format: real Apprise plugins and Apprise's own conversion.

For services we cannot reach from a test (Telegram, Discord …) the check is on exactly what
Apprise would hand them: the plugin's own format and length limit, and Apprise's conversion.
json:// and mailto:// are also delivered for real, end to end.
"""

from __future__ import annotations

import re
from pathlib import Path

import apprise
import pytest
from apprise import NotifyFormat
from apprise.conversion import convert_between
from conftest import FAST, JsonSink, MakeApp, SmtpSink, VendorFor
from starlette.routing import Match
from vendor import SUCCESS

from app import shapes
from app.config import load_settings
from app.notify.render import CHATLOG_PATH, INBOX_PATH, LEAD_PATH, Limits, Renderer, lead_context
from app.notify.templates import DEFAULTS, ResolvedTemplate
from app.server import create_app

PARAGRAPH = "Ünïcödé 😀 test & more <tag> " * 8
EVIL_CONTENT = "<b" + PARAGRAPH * ((10 * 1024) // len(PARAGRAPH) + 1) + "<script>alert(1)</script>"
EVIL = {
    "FirstName": "<script>alert('x')</script>",
    "LastName": "Garcia 😀",
    "Email": "a<b@example.com",
    "PhoneNumber": "+1 555 <b",
    "Content": EVIL_CONTENT,
}
LINK = "https://inbox.example.com/leads/7"

PLUGINS = {
    "json": "json://127.0.0.1:9/n",
    "mailto-text": "mailto://127.0.0.1:25?smtp=127.0.0.1&from=a@example.com&to=b@example.com",
    "mailto-html": "mailto://127.0.0.1:25?smtp=127.0.0.1&from=a@example.com&to=b@example.com"
    "&format=html",
    "telegram": "tgram://123456789:abcdefg_hijklmnop/12315544/",
    "telegram-markdown": "tgram://123456789:abcdefg_hijklmnop/12315544/?format=markdown",
    "discord": "discord://1234567890/abcdefghijklmnopqrstuvwxyz",
    "ntfy": "ntfy://ntfy.sh/my-topic",
    "pushover": "pover://u1234567890123456789012345678@a1234567890123456789012345678",
    "gotify": "gotify://gotify.example.com/Aaaaaaaaaaaaaaa",
    "slack": "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general",
}
RAW_MARKUP = re.compile(r"<(?:script|b(?![r/]))", re.IGNORECASE)  # Apprise's own <br/> is fine


def evil_context() -> dict[str, object]:
    settings = load_settings({"BASE_URL": "https://inbox.example.com", "TZ": "Asia/Kolkata"})
    lead = {
        "id": 7,
        "type": "Lead",
        "first_name": EVIL["FirstName"],
        "last_name": EVIL["LastName"],
        "email": EVIL["Email"],
        "phone_number": EVIL["PhoneNumber"],
        "content": EVIL["Content"],
        "serial_number": "s",
        "session_id": 1,
        "uri": "",
        "created_at": None,
        "received_at": None,
    }
    return lead_context(lead, "Bot <b", settings)


@pytest.mark.parametrize("name", PLUGINS)
def test_a_hostile_lead_fits_and_stays_text_in_every_format(name: str) -> None:
    plugin = apprise.Apprise.instantiate(PLUGINS[name])
    assert plugin is not None, name
    message = Renderer().render("lead", evil_context(), plugin)
    limits = Limits.of(plugin)
    target_format = plugin.resolve_format(NotifyFormat.TEXT)
    sent_body = convert_between(NotifyFormat.TEXT, target_format, content=message.body)
    sent_title = convert_between(NotifyFormat.TEXT, target_format, content=message.title)

    # Within the service's limit, as Apprise will send it (Telegram: 4096, Pushover: 1024 …).
    assert limits.size(message.title, message.body) <= plugin.body_maxlen
    if plugin.title_maxlen:
        assert len(message.title) <= plugin.title_maxlen
    # Name (with emoji) and the link survive; only the content was shortened, visibly.
    assert message.title.startswith("New lead — <script>alert('x')</script> Garcia")
    assert "😀" in message.title or len(message.title) == plugin.title_maxlen
    assert message.body.rstrip().endswith(LINK)
    assert "Phone: +1 555 <b" in message.body
    if len(EVIL_CONTENT) + 500 > plugin.body_maxlen:
        assert "…" in message.body
    else:
        assert EVIL_CONTENT in message.body
    # Whatever format the service gets, the lead's markup arrives as characters, not markup.
    if target_format == NotifyFormat.HTML:
        assert not RAW_MARKUP.search(sent_body), name
        assert not RAW_MARKUP.search(sent_title), name
        assert "&lt;b" in sent_body
    elif target_format == NotifyFormat.TEXT:
        assert sent_body == message.body


def test_a_hostile_lead_is_delivered_intact(
    make_app: MakeApp, vendor_for: VendorFor, json_sink: JsonSink, smtp_sink: SmtpSink
) -> None:
    urls = f"{json_sink.url('/evil')} {smtp_sink.url('&format=html')}"
    app = make_app(APPRISE_URLS=urls, **FAST)
    payload = dict(shapes.sample_lead("Lead"), **EVIL)
    assert vendor_for(app).post(payload).content == SUCCESS

    [note] = json_sink.wait(1, "/evil")
    assert note["title"] == "New lead — <script>alert('x')</script> Garcia 😀"
    assert EVIL_CONTENT in str(note["message"])  # 10 KB fits json://: nothing cut, nothing escaped
    [mail] = smtp_sink.wait(1)
    assert mail["Subject"] == "New lead — <script>alert('x')</script> Garcia 😀"
    body = mail.get_body(preferencelist=("html",))
    assert body is not None
    assert not RAW_MARKUP.search(body.get_content())


def test_templates_from_files_and_the_ui_override_the_defaults(tmp_path: Path) -> None:
    settings = load_settings({"DATA_DIR": str(tmp_path)})
    context = evil_context()
    default = Renderer().render("lead", context)
    custom = Renderer(
        {
            ("lead", "title"): ResolvedTemplate(
                "lead",
                "title",
                "Lead: {{ first_name }}",
                "file",
                DEFAULTS["lead", "title"],
                tmp_path,
            ),
            ("lead", "body"): ResolvedTemplate(
                "lead", "body", "{{ no_such_variable }}", "ui", DEFAULTS["lead", "body"], tmp_path
            ),
        }
    ).render("lead", context)
    assert custom.title == "Lead: <script>alert('x')</script>"
    # A broken override never loses the notification: that part falls back to the default.
    assert custom.body == default.body
    assert settings.data_dir == tmp_path


@pytest.mark.parametrize("path", [LEAD_PATH.format(id=7), CHATLOG_PATH, INBOX_PATH])
def test_notification_links_point_at_real_pages(tmp_path: Path, path: str) -> None:
    """A link in a notification must open a page, not a 404: match it against the router."""
    app = create_app(load_settings({"DATA_DIR": str(tmp_path)}))
    scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "headers": []}
    matches = [route.matches(scope)[0] for route in app.routes]
    assert Match.FULL in matches, f"{path} is not a page of the web UI"
