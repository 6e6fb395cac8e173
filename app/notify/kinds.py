"""What notifications are about (lead, appointment, chat log) and where a target came from."""

from __future__ import annotations

KINDS = ("lead", "appointment", "chatlog")
DEFAULT_KINDS = frozenset({"lead", "appointment"})  # what an untagged target receives


def lead_kind(lead_type: str) -> str:
    """Any Type but Appointment notifies as a lead: the vendor may add types; better a buzz."""
    return "appointment" if lead_type.strip().lower() == "appointment" else "lead"


class Source:
    ENV = "env"  # APPRISE_URLS
    FILE = "file"  # APPRISE_CONFIG
    DB = "db"  # added in the web UI
