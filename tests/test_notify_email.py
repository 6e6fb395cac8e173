"""mailto:// through a real local SMTP server (aiosmtpd): lead content arrives as text."""

from __future__ import annotations

import html

from conftest import FAST, JsonSink, MakeApp, SmtpSink, VendorFor, outbox
from vendor import SUCCESS

from app import shapes

MARKUP = '<script>alert("owned")</script><b>bold</b> & <i>co</i>'


def test_an_email_shows_html_looking_content_as_text(
    make_app: MakeApp, vendor_for: VendorFor, smtp_sink: SmtpSink
) -> None:
    app = make_app(APPRISE_URLS=smtp_sink.url(), **FAST)
    payload = dict(shapes.sample_lead("Lead"), Content=MARKUP, LastName="<b>Garcia</b>")
    assert vendor_for(app).post(payload).content == SUCCESS

    [mail] = smtp_sink.wait(1)
    assert mail["Subject"] == "New lead — David <b>Garcia</b>"
    assert mail["To"] == "owner@example.com"
    # Plain text by default: the markup is characters to read, nothing to render.
    assert mail.get_content_type() == "text/plain"
    assert MARKUP in mail.get_content()
    assert outbox(app, settled=1) == [("lead", "sent", 1)]


def test_an_html_email_escapes_the_content(
    make_app: MakeApp, vendor_for: VendorFor, smtp_sink: SmtpSink, json_sink: JsonSink
) -> None:
    """A target asking for HTML (``format=html``) gets the content escaped, not injected."""
    urls = f"{smtp_sink.url('&format=html')} {json_sink.url('/also')}"
    app = make_app(APPRISE_URLS=urls, **FAST)
    payload = dict(shapes.sample_lead("Lead"), Content=MARKUP)
    assert vendor_for(app).post(payload).content == SUCCESS

    [mail] = smtp_sink.wait(1)
    html_part = mail.get_body(preferencelist=("html",))
    assert html_part is not None
    body = html_part.get_content()
    assert "<script" not in body and "<b>bold" not in body and "<i>" not in body
    assert "&lt;script&gt;" in body
    assert html.unescape(body.replace("&nbsp;", " ")).count('alert("owned")') == 1
    # The other target of the same lead got its own, plain copy: one row per target.
    [note] = json_sink.wait(1, "/also")
    assert MARKUP in str(note["message"])
    assert outbox(app, settled=2) == [("lead", "sent", 1), ("lead", "sent", 1)]
