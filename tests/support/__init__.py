"""Helpers shared by the test suites (importable as `support`: tests/ is on pythonpath); the
official SDK clients pointed at an emulator are in `support.clients`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "inventory.yaml"
BIN = Path(sys.executable).parent


def run_invoke(
    *args: str,
    cwd: Path = REPO,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    inherit_env: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run `invoke ARGS` as an admin would: the one way the suites run the tool's tasks.

    From the repository root unless `cwd` (then pass `--search-root REPO` first); `env` is
    added to this process's environment, or is the whole environment without `inherit_env`.
    """
    full_env = {**os.environ, **(env or {})} if inherit_env else dict(env or {})
    return subprocess.run(
        [str(BIN / "invoke"), *args],
        cwd=cwd,
        env=full_env,
        text=True,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


def run_console(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the `msticpy-provision` console script as a pip-installed admin would, from `cwd`
    (any folder); `env` is added to this process's environment."""
    return subprocess.run(
        [str(BIN / "msticpy-provision"), *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        text=True,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
