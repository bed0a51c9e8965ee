"""README.md is the front door: short, with the two set-up commands near the top, verbatim, and
every runtime dependency justified in one line. The reference lives in docs/."""

from __future__ import annotations

import re

from markdown_docs import README
from support import REPO

INSTALL_AND_RUN = (
    "python3 -m venv .venv && .venv/bin/pip install -q -e . && "
    ".venv/bin/msticpy-provision onboard -i examples/inventory.yaml --local"
)
TEST_SUITE = "bash .ci/run"


def _runtime_dependencies() -> list[str]:
    """The names in pyproject.toml's [project] dependencies (tomllib is Python 3.11+)."""
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    block = re.search(r"^dependencies = \[(.*?)^\]", text, re.M | re.S)
    assert block, "pyproject.toml has no dependencies list"
    return [
        re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0] for spec in re.findall(r'"([^"]+)"', block[1])
    ]


def test_readme_is_short() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) < 450, f"README.md has {len(lines)} lines: move reference into docs/"


def test_the_two_commands_are_near_the_top_verbatim() -> None:
    head = README.read_text(encoding="utf-8").splitlines()[:60]
    assert INSTALL_AND_RUN in head
    assert TEST_SUITE in head


def test_every_runtime_dependency_is_justified() -> None:
    text = README.read_text(encoding="utf-8")
    table = text[text.index("## Runtime dependencies") :]
    rows = dict(re.findall(r"^\| ([\w.-]+) \| (.+?) \|$", table, re.M))
    names = _runtime_dependencies()
    assert "azure-identity" in names and "jupyter_client" in names
    missing = [n for n in names if not rows.get(n, "").strip()]
    assert missing == [], f"runtime dependencies without a line in README.md: {missing}"
