"""The common services as plain labelled fields that build the Apprise URL.

Each field is named after the token or option of Apprise's own plugin metadata
(``template_tokens`` / ``template_args``) it fills, and is secret exactly when Apprise marks that
token private; a field that takes a whole web address (Discord's, Slack's, Mattermost's webhook)
is split into those tokens here. ``tests/test_notify_chooser.py`` checks every service's URL with
Apprise itself. Anything else is the raw Apprise URL field next to these.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from urllib.parse import quote, urlencode, urlsplit

from app.notify.targets import TargetError, plugins

Values = Mapping[str, str]


@dataclass(frozen=True)
class Field:
    name: str  # Apprise's token or option name (``derived``: ours, split into Apprise's)
    label: str
    required: bool = False
    placeholder: str = ""
    hint: str = ""
    choices: tuple[str, ...] = ()
    default: str = ""
    derived: bool = False  # a whole web address holding Apprise's tokens: always secret


@dataclass(frozen=True)
class Service:
    id: str
    label: str
    schema: str  # the Apprise scheme whose plugin the built URL must give
    fields: tuple[Field, ...]
    build: Callable[[Values], str]
    hint: str = ""

    def secret(self, field: Field) -> bool:
        return field.derived or field.name in private_names(self.schema)


@cache
def private_names(schema: str) -> frozenset[str]:
    """The token and option names Apprise's metadata marks private for this scheme."""
    plugin = plugins()[schema]
    names = {
        name
        for table in (plugin.template_tokens, plugin.template_args)
        for name, spec in table.items()
        if spec.get("private")
    }
    return frozenset(names)


def _q(text: str) -> str:
    return quote(text.strip(), safe="")


def _server(text: str, default: str = "") -> tuple[bool, str]:
    """(secure, host[:port][/path]) from "https://host:port/path", "http://…" or "host"."""
    text = text.strip().rstrip("/") or default
    if not text:
        raise TargetError("enter the server's address")
    secure = not text.lower().startswith("http://")
    host = re.sub(r"^https?://", "", text, flags=re.I)
    if not host or any(c in host for c in " @?#"):
        raise TargetError(f"{text!r} is not a server address (like https://example.com)")
    return secure, host


def _schema(secure: bool, name: str) -> str:
    return f"{name}s" if secure else name


def _ntfy(v: Values) -> str:
    secure, host = _server(v.get("host", ""), "ntfy.sh")
    token = v.get("token", "").strip()
    auth = f"{_q(token)}@" if token else ""
    return f"{_schema(secure, 'ntfy')}://{auth}{host}/{_q(v['topic'])}"


def _telegram(v: Values) -> str:
    chat = v.get("targets", "").strip()
    return (
        f"tgram://{v['bot_token'].strip()}/{_q(chat)}"
        if chat
        else f"tgram://{v['bot_token'].strip()}/"
    )


def _pushover(v: Values) -> str:
    return f"pover://{_q(v['user_key'])}@{_q(v['token'])}"


def _gotify(v: Values) -> str:
    secure, host = _server(v["host"])
    return f"{_schema(secure, 'gotify')}://{host}/{_q(v['token'])}"


def _email(v: Values) -> str:
    mode = v.get("mode", "starttls") or "starttls"
    user, password = v.get("user", "").strip(), v.get("password", "")
    auth = f"{_q(user)}:{_q(password)}@" if user and password else (f"{_q(user)}@" if user else "")
    port = v.get("port", "").strip()
    if port and not port.isdigit():
        raise TargetError(f"port: {port!r} is not a number")
    query = {"from": v["from"].strip(), "to": v.get("to", "").strip() or v["from"].strip()}
    if mode != "insecure":
        query["mode"] = mode
    schema = "mailto" if mode == "insecure" else "mailtos"
    host = v["host"].strip()
    return f"{schema}://{auth}{host}{':' + port if port else ''}/?{urlencode(query)}"


def _webhook_parts(url: str, pattern: str, service: str) -> re.Match[str]:
    found = re.fullmatch(pattern, url.strip().split("?")[0].rstrip("/"), re.I)
    if found is None:
        raise TargetError(f"that is not a {service} webhook address; copy it from {service}")
    return found


def _discord(v: Values) -> str:
    found = _webhook_parts(
        v["webhook_url"],
        r"https://(?:\w+\.)?discord(?:app)?\.com/api/webhooks/(\d+)/([\w-]+)",
        "Discord",
    )
    return f"discord://{found[1]}/{found[2]}"


def _slack(v: Values) -> str:
    found = _webhook_parts(
        v["webhook_url"], r"https://hooks\.slack\.com/services/(\w+)/(\w+)/(\w+)", "Slack"
    )
    return f"slack://{found[1]}/{found[2]}/{found[3]}"


def _mattermost(v: Values) -> str:
    parts = urlsplit(v["webhook_url"].strip())
    found = re.fullmatch(r"(.*)/hooks/(\w+)/?", parts.path)
    if parts.scheme not in ("http", "https") or not parts.netloc or found is None:
        raise TargetError("that is not a Mattermost webhook address (…/hooks/…)")
    return f"{_schema(parts.scheme == 'https', 'mmost')}://{parts.netloc}{found[1]}/{found[2]}"


def _home_assistant(v: Values) -> str:
    secure, host = _server(v["host"])
    target = v.get("targets", "").strip()
    # The token as an option: in the path Apprise takes only what looks like a JWT for it.
    token = urlencode({"accesstoken": v["accesstoken"].strip()})
    return f"{_schema(secure, 'hassio')}://{host}/{_q(target)}?{token}"


def _matrix(v: Values) -> str:
    secure, host = _server(v["host"], "matrix.org")
    user = v.get("user", "").strip()
    auth = f"{_q(user)}:{_q(v['password'])}@" if user else f"{_q(v['password'])}@"
    return f"{_schema(secure, 'matrix')}://{auth}{host}/{_q(v['targets'])}"


def _signal(v: Values) -> str:
    secure, host = _server(v["host"])
    return f"{_schema(secure, 'signal')}://{host}/{_q(v['from_phone'])}/{_q(v['targets'])}"


TOPIC_HINT = "Anyone who knows the topic can read it: pick something hard to guess."
SERVICES: tuple[Service, ...] = (
    Service(
        "ntfy",
        "ntfy",
        "ntfy",
        (
            Field("host", "Server", placeholder="ntfy.sh", hint="ntfy.sh, or your own server"),
            Field("topic", "Topic", required=True, placeholder="my-inbox-x7k2", hint=TOPIC_HINT),
            Field("token", "Access token", placeholder="tk_… (only for a protected topic)"),
        ),
        _ntfy,
        "Free push notifications: install the ntfy app and subscribe to the topic.",
    ),
    Service(
        "telegram",
        "Telegram",
        "tgram",
        (
            Field("bot_token", "Bot token", required=True, placeholder="123456789:AA…"),
            Field(
                "targets",
                "Chat ID",
                placeholder="123456789",
                hint="Empty: the bot's owner (send the bot a message first)",
            ),
        ),
        _telegram,
        "Create a bot with @BotFather; it gives the bot token.",
    ),
    Service(
        "pushover",
        "Pushover",
        "pover",
        (
            Field("user_key", "User key", required=True),
            Field("token", "Application API token", required=True),
        ),
        _pushover,
    ),
    Service(
        "gotify",
        "Gotify",
        "gotify",
        (
            Field("host", "Server", required=True, placeholder="https://gotify.example.com"),
            Field("token", "Application token", required=True),
        ),
        _gotify,
    ),
    Service(
        "email",
        "E-mail",
        "mailto",
        (
            Field("host", "SMTP server", required=True, placeholder="smtp.example.com"),
            Field("port", "Port", placeholder="587 (STARTTLS) or 465 (SSL)"),
            Field("mode", "Security", choices=("starttls", "ssl", "insecure"), default="starttls"),
            Field("user", "User name", placeholder="me@example.com"),
            Field("password", "Password"),
            Field("from", "From", required=True, placeholder="inbox@example.com"),
            Field("to", "To", placeholder="me@example.com (empty: the From address)"),
        ),
        _email,
    ),
    Service(
        "discord",
        "Discord",
        "discord",
        (
            Field(
                "webhook_url",
                "Webhook URL",
                required=True,
                derived=True,
                placeholder="https://discord.com/api/webhooks/…",
                hint="Channel settings → Integrations → Webhooks → Copy Webhook URL",
            ),
        ),
        _discord,
    ),
    Service(
        "homeassistant",
        "Home Assistant",
        "hassio",
        (
            Field("host", "Address", required=True, placeholder="http://homeassistant.local:8123"),
            Field(
                "accesstoken", "Long-lived access token", required=True, hint="Profile → Security"
            ),
            Field("targets", "Notify service", placeholder="mobile_app_my_phone (optional)"),
        ),
        _home_assistant,
    ),
    Service(
        "matrix",
        "Matrix",
        "matrix",
        (
            Field("host", "Server", placeholder="matrix.org"),
            Field("user", "User", placeholder="empty when you give an access token"),
            Field("password", "Password or access token", required=True),
            Field("targets", "Room", required=True, placeholder="#room:matrix.org"),
        ),
        _matrix,
    ),
    Service(
        "slack",
        "Slack",
        "slack",
        (
            Field(
                "webhook_url",
                "Webhook URL",
                required=True,
                derived=True,
                placeholder="https://hooks.slack.com/services/T…/B…/…",
            ),
        ),
        _slack,
    ),
    Service(
        "signal",
        "Signal",
        "signal",
        (
            Field("host", "signal-cli REST API", required=True, placeholder="http://signal:8080"),
            Field("from_phone", "From number", required=True, placeholder="+15551234567"),
            Field("targets", "To number or group", required=True, placeholder="+15557654321"),
        ),
        _signal,
        "Needs a signal-cli-rest-api server of your own.",
    ),
    Service(
        "mattermost",
        "Mattermost",
        "mmost",
        (
            Field(
                "webhook_url",
                "Incoming webhook URL",
                required=True,
                derived=True,
                placeholder="https://chat.example.com/hooks/…",
            ),
        ),
        _mattermost,
    ),
)
BY_ID = {service.id: service for service in SERVICES}


def build(service_id: str, values: Values) -> str:
    """The Apprise URL for a service's filled-in fields (TargetError says what is missing)."""
    service = BY_ID.get(service_id)
    if service is None:
        raise TargetError(f"unknown service {service_id!r}")
    given = {f.name: str(values.get(f.name, "") or f.default) for f in service.fields}
    missing = [f.label for f in service.fields if f.required and not given[f.name].strip()]
    if missing:
        raise TargetError(f"{service.label}: enter the {' and the '.join(missing)}")
    choices = {f.name: f.choices for f in service.fields if f.choices}
    for name, allowed in choices.items():
        if given[name] not in allowed:
            raise TargetError(f"{name}: must be one of {', '.join(allowed)}")
    try:
        return service.build(given)
    except TargetError as exc:
        raise TargetError(f"{service.label}: {exc}") from None
