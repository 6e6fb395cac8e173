"""The service chooser's fields build URLs that real Apprise accepts, for the service meant.

Judged by the library, not by our code: each built URL goes through ``apprise.Apprise().add``
and the plugin Apprise makes of it must be the expected service, holding the typed values.
Also: every field is named after Apprise's own metadata, secret exactly when Apprise says so;
a mistyped URL gets a suggestion Apprise accepts; a URL is shown back as written, masked.
"""

from __future__ import annotations

from typing import Any

import apprise
import pytest

from app.notify import chooser
from app.notify.masking import as_written, without_defaults
from app.notify.suggest import suggestions
from app.notify.targets import TargetError

TOKEN = "AAHs3cretBotT0ken_abcdefghijklmn"
# service id -> (typed values, Apprise plugin class, attributes the plugin must hold)
CASES: dict[str, tuple[dict[str, str], str, dict[str, Any]]] = {
    "ntfy": (
        {"topic": "inbox-x7k2", "token": "tk_s3cretaccesstoken"},
        "NotifyNtfy",
        {"topics": ["inbox-x7k2"], "token": "tk_s3cretaccesstoken", "host": "ntfy.sh"},
    ),
    "telegram": (
        {"bot_token": f"123456789:{TOKEN}", "targets": "-1001234567"},
        "NotifyTelegram",
        {"bot_token": f"123456789:{TOKEN}", "targets": [(-1001234567, None)]},
    ),
    "pushover": (
        {"user_key": "u" * 30, "token": "a" * 30},
        "NotifyPushover",
        {"user_key": "u" * 30, "token": "a" * 30},
    ),
    "gotify": (
        {"host": "https://push.example.com/gotify", "token": "AbCdEf123456"},
        "NotifyGotify",
        {"host": "push.example.com", "token": "AbCdEf123456", "secure": True},
    ),
    "email": (
        {
            "host": "smtp.example.com",
            "port": "465",
            "mode": "ssl",
            "user": "me@example.com",
            "password": "p@ss/w:rd?#",
            "from": "inbox@example.com",
            "to": "me@example.com",
        },
        "NotifyEmail",
        {
            "smtp_host": "smtp.example.com",
            "port": 465,
            "secure_mode": "ssl",
            "user": "me@example.com",
            "password": "p@ss/w:rd?#",
            "targets": [(False, "me@example.com")],
        },
    ),
    "discord": (
        {"webhook_url": "https://discord.com/api/webhooks/123456789012/abcDEF-ghi_jkl"},
        "NotifyDiscord",
        {"webhook_id": "123456789012", "webhook_token": "abcDEF-ghi_jkl"},
    ),
    "homeassistant": (
        {
            "host": "http://homeassistant.local:8123",
            "accesstoken": "s3cret.long.lived",
            "targets": "mobile_app_phone",
        },
        "NotifyHomeAssistant",
        {"host": "homeassistant.local", "port": 8123, "accesstoken": "s3cret.long.lived"},
    ),
    "matrix": (
        {"user": "bob", "password": "hunter2s3cret", "targets": "#leads:matrix.org"},
        "NotifyMatrix",
        {"host": "matrix.org", "user": "bob", "password": "hunter2s3cret"},
    ),
    "slack": (
        {"webhook_url": "https://hooks.slack.com/services/T1ABCDEF/B2ABCDEF/C3abcdefghijkl"},
        "NotifySlack",
        {"token_a": "T1ABCDEF", "token_b": "B2ABCDEF", "token_c": "C3abcdefghijkl"},
    ),
    "signal": (
        {"host": "http://signal:8080", "from_phone": "+15551234567", "targets": "+15557654321"},
        "NotifySignalAPI",
        {"host": "signal", "port": 8080, "source": "+15551234567", "targets": ["+15557654321"]},
    ),
    "mattermost": (
        {"webhook_url": "https://chat.example.com/hooks/abcdef123456"},
        "NotifyMattermost",
        {"host": "chat.example.com", "token": "abcdef123456"},
    ),
}


def test_every_listed_service_has_a_case() -> None:
    assert sorted(CASES) == sorted(s.id for s in chooser.SERVICES)
    listed = {s.label for s in chooser.SERVICES}
    wanted = {"ntfy", "Telegram", "Pushover", "Gotify", "E-mail", "Discord", "Home Assistant"}
    assert wanted | {"Matrix"} <= listed


@pytest.mark.parametrize("service_id", sorted(CASES))
def test_fields_build_a_url_apprise_accepts_for_that_service(service_id: str) -> None:
    values, plugin_class, attributes = CASES[service_id]
    url = chooser.build(service_id, values)
    notifier = apprise.Apprise()
    assert notifier.add(url) is True, url
    [plugin] = list(notifier)
    assert type(plugin).__name__ == plugin_class
    schemes = {
        scheme
        for protocol in (plugin.protocol, plugin.secure_protocol)
        for scheme in ((protocol,) if isinstance(protocol, str) else protocol or ())
    }
    assert chooser.BY_ID[service_id].schema in schemes
    held = {name: getattr(plugin, name) for name in attributes}
    if service_id == "email":
        held["targets"] = [tuple(t) for t in plugin.targets]
    assert held == attributes


def test_matrix_room_and_home_assistant_target_survive_the_url() -> None:
    url = chooser.build("matrix", CASES["matrix"][0])
    plugin = apprise.Apprise.instantiate(url)
    assert plugin.rooms == ["#leads:matrix.org"]
    url = chooser.build("homeassistant", CASES["homeassistant"][0])
    plugin = apprise.Apprise.instantiate(url)
    assert [t[1] for t in plugin.targets] == ["mobile_app_phone"]


@pytest.mark.parametrize("service", chooser.SERVICES, ids=lambda s: s.id)
def test_fields_are_apprise_s_own_names_and_secret_as_apprise_says(
    service: chooser.Service,
) -> None:
    plugin = apprise.Apprise.instantiate(chooser.build(service.id, CASES[service.id][0]))
    known = set(plugin.template_tokens) | set(plugin.template_args)
    for field in service.fields:
        if field.derived:  # a whole web address, split into Apprise's tokens
            assert service.secret(field)
            continue
        assert field.name in known, f"{service.id}.{field.name} is not Apprise's name"
        specs = (plugin.template_tokens.get(field.name), plugin.template_args.get(field.name))
        private = any(spec and spec.get("private") for spec in specs)
        assert service.secret(field) == private, f"{service.id}.{field.name}"


def test_missing_and_malformed_fields_are_explained() -> None:
    with pytest.raises(TargetError, match="Telegram: enter the Bot token"):
        chooser.build("telegram", {"targets": "1"})
    with pytest.raises(TargetError, match="not a Discord webhook"):
        chooser.build("discord", {"webhook_url": "https://example.com/x"})
    with pytest.raises(TargetError, match="mode: must be one of"):
        chooser.build("email", {**CASES["email"][0], "mode": "tls"})
    with pytest.raises(TargetError, match="unknown service"):
        chooser.build("fax", {})


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("ntfy.sh/mytopic", "ntfys://ntfy.sh/mytopic"),
        ("ntfys//ntfy.sh/mytopic", "ntfys://ntfy.sh/mytopic"),
        (f"tgram:/123456789:{TOKEN}/555", f"tgram://123456789:{TOKEN}/555"),
        (f"telegram://123456789:{TOKEN}/555", f"tgram://123456789:{TOKEN}/555"),
        ("mailto:me@example.com", "mailto://me@example.com"),
        ("mialto://me:pw@example.com", "mailto://me:pw@example.com"),
        ("https://push.example.com/alerts", "ntfys://push.example.com/alerts"),
    ],
)
def test_a_mistyped_url_gets_a_suggestion_apprise_accepts(typed: str, meant: str) -> None:
    asset = apprise.AppriseAsset()
    assert apprise.Apprise.instantiate(typed) is None  # really unusable as typed
    found = [guess.url for guess in suggestions(typed, asset)]
    assert found[0] == meant
    assert all(apprise.Apprise.instantiate(url) is not None for url in found)


def test_a_url_is_shown_as_written_with_its_secrets_masked() -> None:
    asset = apprise.AppriseAsset()
    typed = "ntfys://tk_s3cretaccesstoken@ntfy.example.com/alerts?priority=high"
    plugin = apprise.Apprise.instantiate(typed)
    assert as_written(typed, plugin) == "ntfys://****@ntfy.example.com/alerts?priority=high"
    typed = f"tgram://123456789:{TOKEN}/555"
    assert as_written(typed, apprise.Apprise.instantiate(typed)) == "tgram://****/555"
    typed = "mailtos://smtp.example.com?user=me@example.com&pass=pw5ecret&to=you@example.com"
    shown = as_written(typed, apprise.Apprise.instantiate(typed))
    assert shown == "mailtos://smtp.example.com?user=me@example.com&pass=****&to=you@example.com"
    # Without the typed text (APPRISE_CONFIG), Apprise's form loses the options nobody typed.
    plugin = apprise.Apprise.instantiate(
        "ntfys://user:pw5ecret@ntfy.example.com/alerts?priority=high"
    )
    assert without_defaults(plugin, asset) == (
        "ntfys://user:****@ntfy.example.com/alerts?priority=high"
    )
