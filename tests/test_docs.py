"""The documentation stays true: every setting is documented, and nothing documented is stale."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.config import VARIABLES, Variable, documented_names

ROOT = Path(__file__).resolve().parent.parent
ENV_EXAMPLE = ROOT / ".env.example"
CONFIGURATION = ROOT / "docs" / "configuration.md"


def names_in_env_example(text: str) -> set[str]:
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))


def names_in_configuration(text: str) -> set[str]:
    return set(re.findall(r"^\|\s*`([A-Z][A-Z0-9_]+)`\s*\|", text, flags=re.MULTILINE))


def undocumented(names: list[str], documented: set[str]) -> list[str]:
    return [name for name in names if name not in documented]


def test_every_variable_is_in_env_example() -> None:
    documented = names_in_env_example(ENV_EXAMPLE.read_text())
    assert undocumented(documented_names(), documented) == []


def test_every_variable_is_in_configuration_doc() -> None:
    documented = names_in_configuration(CONFIGURATION.read_text())
    assert undocumented(documented_names(), documented) == []


def test_docs_name_no_variable_the_app_does_not_read() -> None:
    declared = set(documented_names())
    assert names_in_env_example(ENV_EXAMPLE.read_text()) - declared == set()
    assert names_in_configuration(CONFIGURATION.read_text()) - declared == set()


def test_a_new_undeclared_variable_would_be_caught() -> None:
    """The checks above are not vacuous: a variable nobody documented is reported."""
    names = [*documented_names(), "BRAND_NEW_SETTING", "BRAND_NEW_SETTING_FILE"]
    documented = names_in_configuration(CONFIGURATION.read_text())
    assert undocumented(names, documented) == ["BRAND_NEW_SETTING", "BRAND_NEW_SETTING_FILE"]
    assert Variable("X", secret=True).secret


@pytest.mark.parametrize("variable", [v for v in VARIABLES if v.secret], ids=lambda v: v.name)
def test_secrets_have_file_twins(variable: Variable) -> None:
    assert f"{variable.name}_FILE" in documented_names()


def test_the_environment_is_read_only_in_config() -> None:
    """Reading os.environ elsewhere would let an undocumented variable slip in."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "app").rglob("*.py")
        if path.name != "config.py" and re.search(r"os\.environ|getenv\(", path.read_text())
    ]
    assert offenders == []


def test_readme_gives_the_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "./serve.sh" in readme
    assert "./test.sh" in readme
    assert (
        "bash test.sh" in (ROOT / ".ci" / "run").read_text()
        or "./test.sh" in (ROOT / ".ci" / "run").read_text()
    )


TEST_REFERENCE = re.compile(r"`(test_\w+\.py)::(test_\w+)`")


def test_security_doc_names_only_tests_that_exist() -> None:
    """docs/security.md says which test shows each defence: every one named must exist."""
    text = (ROOT / "docs" / "security.md").read_text()
    references = TEST_REFERENCE.findall(text)
    assert len(references) >= 30, "the reference pattern no longer matches the doc"
    missing = [
        f"{file}::{name}"
        for file, name in references
        if not re.search(
            rf"^(async )?def {name}\(", (ROOT / "tests" / file).read_text(), re.MULTILINE
        )
    ]
    assert missing == []
