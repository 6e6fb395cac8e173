"""compose.yaml and the Dockerfile as shipped: checks that need no Docker engine.

The image itself, built and run, is tested in test_container_runtime.py and
test_container_image.py.
"""

from __future__ import annotations

import re

from containers import ROOT, compose_file, project_version

from app.config import documented_names

FIXED_BY_IMAGE = {"HOST", "PORT", "DATA_DIR"}


def test_compose_hands_every_setting_through() -> None:
    """compose.yaml lists variables one by one; a new setting must not be forgotten there."""
    environment = compose_file()["services"]["inbox"]["environment"]
    assert isinstance(environment, dict)
    expected = [name for name in documented_names() if name not in FIXED_BY_IMAGE]
    missing = [f"      {name}: ${{{name}:-}}" for name in expected if name not in environment]
    assert missing == [], "add to compose.yaml's environment:\n" + "\n".join(missing)
    assert sorted(set(environment) - set(expected)) == []
    for name, value in environment.items():
        assert str(value).startswith(f"${{{name}:-"), f"{name} comes from .env or the shell"


def test_compose_is_the_documented_shape() -> None:
    service = compose_file()["services"]["inbox"]
    assert service["build"] == "."
    assert service["image"]
    assert service["ports"] == ["8080:8080"]
    assert service["volumes"] == ["./data:/data"]
    assert service["restart"] == "unless-stopped"
    assert "python" in service["healthcheck"]["test"]  # type: ignore[index]


def test_image_labels_carry_the_project_version() -> None:
    match = re.search(r"^ARG VERSION=(\S+)$", (ROOT / "Dockerfile").read_text(), re.M)
    assert match and match.group(1) == project_version()
