"""The runtime dependencies' declared floors are versions the tool can run on.

CI (.ci/run) installs every direct runtime dependency at its floor (uv's `--resolution
lowest-direct`) and runs a smoke subset there, so a floor that cannot work fails CI. These
tests pin the reasons the current floors are where they are, each from its source:

- azure-identity 1.18.0 is the first release whose credentials implement `get_token_info`
  (azure-identity CHANGELOG, 1.18.0: "All credentials now implement the SupportsTokenInfo
  protocol"); `TenantCredential.get_token_info` calls it on the wrapped credential, and
  azure-core >= 1.31 prefers `get_token_info` wherever a credential has it.
- azure-mgmt-machinelearningservices 1.0.0 imports `six` without declaring it
  (models/_azure_machine_learning_workspaces_enums.py); 1.0.1 does not import it.
- requests 2.32.0 and 2.32.1 are yanked; before 2.32.4 a crafted URL could read another host's
  .netrc credentials (CVE-2024-47081), and the shared session looks netrc up per origin.
- Jinja2 before 3.1.6 has sandbox escapes (CVE-2024-56201, CVE-2024-56326, CVE-2025-27516);
  the templates render in a sandbox.
- aiohttp before 3.13.4 allows unbounded header and trailer memory (CVE-2026-22815) and
  duplicate Host headers (CVE-2026-34525); the emulator's server runs on it.
"""

from __future__ import annotations

import importlib.metadata as md
import re

from packaging.requirements import Requirement
from packaging.version import Version
from support import REPO

# distribution -> (lowest acceptable floor, why)
MINIMUM_FLOOR = {
    "azure-identity": ("1.18.0", "get_token_info on every credential"),
    "azure-mgmt-machinelearningservices": ("1.0.1", "1.0.0 imports six, undeclared"),
    "requests": ("2.32.4", "2.32.0/2.32.1 yanked; CVE-2024-47081 before 2.32.4"),
    "jinja2": ("3.1.6", "sandbox escapes before 3.1.6"),
    "aiohttp": ("3.13.4", "CVE-2026-22815, CVE-2026-34525 before 3.13.4"),
}


def _floors() -> dict[str, Version]:
    """The runtime requirements as installed from pyproject.toml (extras' ones left out)."""
    out: dict[str, Version] = {}
    for line in md.requires("msticpy-provision") or []:
        req = Requirement(line)
        if req.marker is not None:
            continue
        lows = [Version(s.version) for s in req.specifier if s.operator in (">=", "==", "~=")]
        assert lows, f"{req.name} declares no floor: the lowest-versions CI step needs one"
        out[req.name.lower()] = max(lows)
    return out


def test_every_runtime_dependency_floor_is_one_the_tool_runs_on() -> None:
    floors = _floors()
    too_low = [
        f"{name}: declared >= {floors[name]}, needs >= {low} ({why})"
        for name, (low, why) in MINIMUM_FLOOR.items()
        if floors[name] < Version(low)
    ]
    assert too_low == []


def test_ci_installs_the_lowest_declared_versions_and_runs_a_smoke_subset_there() -> None:
    run = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "--resolution lowest-direct" in run
    smoke = re.search(r'"\$lowest/venv/bin/python" -m pytest(?P<args>(?:[^\n]*\\\n)*[^\n]*)', run)
    assert smoke is not None, "the smoke subset runs in the lowest-versions venv"
    assert "tests/apply/test_apply.py" in smoke["args"], "an apply against the emulator"
    assert run.index("lowest-direct") < run.rindex(".venv/bin/python -m pytest -q")
