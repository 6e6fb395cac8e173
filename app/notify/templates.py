"""Title and body templates (Jinja2): built-in defaults, files in DATA_DIR, overrides from the UI.

A template renders plain text; Apprise converts it to each target's format (escaping it for
HTML e-mail, Telegram and the like), so no template ever has to escape anything itself. The
environment is sandboxed because templates can be edited in the web UI.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import Connection, delete, insert, select
from sqlmodel import col

from app.config import Settings
from app.models import NotifyTemplate

log = logging.getLogger(__name__)

TEMPLATE_KINDS = ("lead", "appointment", "chatlog", "summary")
PARTS = ("title", "body")
MAX_TEMPLATE_CHARS = 20_000


class Origin:
    DEFAULT = "default"
    FILE = "file"  # DATA_DIR/notify-templates/<kind>.<part>.j2
    UI = "ui"  # saved from Settings -> Notifications


_PERSON_BODY = """\
{% if content %}
{{ content }}
{% endif %}
{% if phone %}
Phone: {{ phone }}
{% endif %}
{% if email %}
Email: {{ email }}
{% endif %}
{{ [time, chatbot_name] | select | join(" · ") }}

{% if link %}
{{ link }}
{% endif %}
"""

DEFAULTS: dict[tuple[str, str], str] = {
    ("lead", "title"): "New lead — {{ name }}",
    ("lead", "body"): _PERSON_BODY,
    ("appointment", "title"): "New appointment — {{ name }}",
    ("appointment", "body"): _PERSON_BODY,
    ("chatlog", "title"): (
        'Chat logs — {{ conversations }} conversation{{ "s" if conversations != 1 }}, '
        '{{ messages }} message{{ "s" if messages != 1 }}'
    ),
    ("chatlog", "body"): """\
{% for w in windows %}
{{ w.chatbot_name }}: {{ w.conversations }} conversation{{ "s" if w.conversations != 1 }}, \
{{ w.messages }} message{{ "s" if w.messages != 1 }}
{% endfor %}
{% if more_windows %}
… and {{ more_windows }} more
{% endif %}
{{ period }}

{% if link %}
{{ link }}
{% endif %}
""",
    ("summary", "title"): """\
{% if leads and appointments %}
{{ leads }} new lead{{ "s" if leads != 1 }} and {{ appointments }} \
appointment{{ "s" if appointments != 1 }}
{% elif appointments %}
{{ appointments }} new appointment{{ "s" if appointments != 1 }}
{% else %}
{{ leads }} new lead{{ "s" if leads != 1 }}
{% endif %}""",
    ("summary", "body"): """\
{% for item in items %}
{{ item.type }} — {{ item.name }} ({{ item.time }})
{% endfor %}
{% if more %}
… and {{ more }} more
{% endif %}

One summary instead of {{ count }} notifications (at most {{ rate }} per {{ window }}).
{% if link %}
{{ link }}
{% endif %}
""",
}

_ENVIRONMENT = SandboxedEnvironment(
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,  # plain text: Apprise escapes per target format
    undefined=StrictUndefined,  # a typo in a variable name fails at save time, not silently
)


@functools.lru_cache(maxsize=256)
def compile_template(text: str) -> Template:
    return _ENVIRONMENT.from_string(text)


def render_text(text: str, context: Mapping[str, Any]) -> str:
    rendered = compile_template(text).render(context)
    lines = [line.rstrip() for line in rendered.strip().splitlines()]
    # Collapse runs of blank lines left by empty optional fields.
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    return "\n".join(kept)


@dataclass(frozen=True)
class ResolvedTemplate:
    kind: str
    part: str
    text: str
    origin: str
    default: str
    path: Path  # where a file override would be read from

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.part


def template_dir(settings: Settings) -> Path:
    return settings.data_dir / "notify-templates"


def template_path(settings: Settings, kind: str, part: str) -> Path:
    return template_dir(settings) / f"{kind}.{part}.j2"


def resolve_all(
    connection: Connection, settings: Settings
) -> dict[tuple[str, str], ResolvedTemplate]:
    """UI override, else file, else default, for every (kind, part)."""
    saved = {
        (row.kind, row.part): row.text for row in connection.execute(select(NotifyTemplate)).all()
    }
    resolved: dict[tuple[str, str], ResolvedTemplate] = {}
    for kind in TEMPLATE_KINDS:
        for part in PARTS:
            path = template_path(settings, kind, part)
            default = DEFAULTS[(kind, part)]
            text, origin = default, Origin.DEFAULT
            if (kind, part) in saved:
                text, origin = saved[(kind, part)], Origin.UI
            elif path.is_file():
                try:
                    text, origin = path.read_text(encoding="utf-8"), Origin.FILE
                except (OSError, UnicodeDecodeError) as exc:
                    log.warning("notification template %s unreadable (%s); default used", path, exc)
            resolved[(kind, part)] = ResolvedTemplate(kind, part, text, origin, default, path)
    return resolved


def check(kind: str, part: str, text: str, sample: Mapping[str, Any]) -> str:
    """Compile and render against a sample; returns the rendering or raises TemplateError."""
    if kind not in TEMPLATE_KINDS or part not in PARTS:
        raise TemplateError(f"unknown template {kind}.{part}")
    if len(text) > MAX_TEMPLATE_CHARS:
        raise TemplateError(f"template longer than {MAX_TEMPLATE_CHARS} characters")
    rendered = render_text(text, sample)
    if part == "title" and "\n" in rendered:
        raise TemplateError("a title must render to one line")
    return rendered


def save(connection: Connection, kind: str, part: str, text: str | None, now: datetime) -> None:
    """Store a UI override; ``None`` or blank removes it (back to the file or the default)."""
    connection.execute(
        delete(NotifyTemplate).where(
            col(NotifyTemplate.kind) == kind, col(NotifyTemplate.part) == part
        )
    )
    if text is not None and text.strip():
        connection.execute(
            insert(NotifyTemplate).values(kind=kind, part=part, text=text, updated_at=now)
        )
