"""Security linters and the dependency audit are clean, or every finding is justified.

- bandit over provision/: each finding must be silenced where it is, with a reason
  (`# noqa: Sxxx (reason)` for the matching ruff rule, or `# nosec ... reason`), or be listed in
  BANDIT_JUSTIFIED below with its reason.
- ruff's flake8-bandit rules (S) over provision/, as pyproject selects them (S101 is ignored
  project-wide: asserts there narrow types; see BANDIT_JUSTIFIED B101).
- pip-audit over the pinned closure of the runtime dependencies (what `pip install
  msticpy-provision` brings), against PyPI's vulnerability data.
"""

from __future__ import annotations

import fnmatch
import functools
import importlib.metadata as md
import json
import re
import subprocess
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from support import BIN, REPO

# bandit test id -> the ruff rule that flags the same thing (their noqa silences both)
RUFF_EQUIVALENT = {
    "B101": "S101",
    "B105": "S105",
    "B106": "S106",
    "B311": "S311",
    "B324": "S324",
    "B404": "S404",
    "B406": "S406",
    "B603": "S603",
}

# (bandit test id, path pattern) -> why the finding is not a vulnerability here
BANDIT_JUSTIFIED: dict[tuple[str, str], str] = {
    ("B101", "provision/*"): "asserts narrow types for mypy after checks done just above; "
    "pyproject ignores S101 project-wide",
    ("B404", "provision/*"): "importing subprocess is not itself a risk; every call is checked "
    "as B603/S603 and carries its reason",
    ("B406", "provision/emulator/files/*.py"): "xml.sax.saxutils.escape/quoteattr "
    "only write XML answers",
    ("B405", "provision/emulator/files/service.py"): "the emulator parses the small "
    "Set File Service Properties body a local client sends; ElementTree resolves no external "
    "entities and the bundled expat (>= 2.4.1) limits entity amplification",
    ("B314", "provision/emulator/files/service.py"): "as B405: one bounded request body from "
    "a local client, no external entities",
    ("B105", "provision/msticpy_contract/*"): "compares the secret_store mode with its names "
    "('env', 'keyvault'); no password",
    ("B324", "provision/emulator/*"): "MD5 is Azure Files' Content-MD5 integrity header, as "
    "the service defines it; not used for security",
}


@functools.cache
def _bandit() -> list[dict[str, object]]:
    proc = subprocess.run(
        [str(BIN / "bandit"), "-r", "provision", "-f", "json", "-q"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.stdout, proc.stderr
    results: list[dict[str, object]] = json.loads(proc.stdout)["results"]
    return results


def _justified_in_code(finding: dict[str, object]) -> bool:
    path = REPO / str(finding["filename"])
    lines = path.read_text(encoding="utf-8").splitlines()
    rule = RUFF_EQUIVALENT.get(str(finding["test_id"]), "")
    for n in finding["line_range"]:  # type: ignore[attr-defined]
        text = lines[int(n) - 1]
        if rule and re.search(rf"noqa: [A-Z0-9, ]*{rule}[A-Z0-9, ]*\s*\(\w", text):
            return True
        if re.search(r"#\s*nosec\b.*\w{3}", text):
            return True
    return False


def _justified_in_list(finding: dict[str, object]) -> str | None:
    for (test_id, pattern), reason in BANDIT_JUSTIFIED.items():
        if finding["test_id"] == test_id and fnmatch.fnmatch(str(finding["filename"]), pattern):
            return reason
    return None


def test_bandit_findings_are_all_justified() -> None:
    findings = _bandit()
    unjustified = [
        f"{f['filename']}:{f['line_number']}: {f['test_id']} {f['issue_text']}"
        for f in findings
        if not _justified_in_code(f) and not _justified_in_list(f)
    ]
    assert unjustified == [], "\n".join(unjustified)


def test_bandit_justification_list_has_no_stale_entries() -> None:
    findings = _bandit()
    used = {
        key
        for f in findings
        for key in BANDIT_JUSTIFIED
        if f["test_id"] == key[0] and fnmatch.fnmatch(str(f["filename"]), key[1])
    }
    assert set(BANDIT_JUSTIFIED) - used == set()


def test_ruff_security_rules_are_clean() -> None:
    proc = subprocess.run(
        [str(BIN / "ruff"), "check", "--select", "S", "--ignore", "S101", "provision"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def runtime_closure(root: str = "msticpy-provision") -> dict[str, str]:
    """name -> installed version, for the project's runtime dependencies, transitively."""
    seen: dict[str, str] = {}
    todo = [root]
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        seen[key] = dist.version
        for raw in dist.requires or []:
            req = Requirement(raw)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    seen.pop(re.sub(r"[-_.]+", "-", root).lower(), None)
    return seen


# Imported inside a function that only `invoke demo-analyst` runs: the `demo` extra brings them.
DEMO_ONLY = {"msticpy", "ipykernel"}


def test_every_module_the_product_imports_is_installed_with_it() -> None:
    """`pip install msticpy-provision` (no extra) must bring every third-party module that
    provision/ imports: a module that only a test extra brings would fail on an admin's
    machine (the README's quick start installs no extra)."""
    import ast
    import sys

    closure = set(runtime_closure())
    by_module = md.packages_distributions()
    missing = []
    for path in sorted((REPO / "provision").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top == "provision" or top in DEMO_ONLY:
                    continue
                dists = {re.sub(r"[-_.]+", "-", d).lower() for d in by_module.get(top, [])}
                if not dists & closure:
                    missing.append(f"{path.relative_to(REPO)}: {name} ({sorted(dists)})")
    assert missing == [], "imported but not a runtime dependency:\n" + "\n".join(missing)


# vulnerability id -> why it does not affect this project (passed as --ignore-vuln)
PIP_AUDIT_IGNORED: dict[str, str] = {}


def test_runtime_dependencies_have_no_known_vulnerabilities(tmp_path: Path) -> None:
    pins = runtime_closure()
    assert "jinja2" in pins and "azure-core" in pins
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("".join(f"{name}=={version}\n" for name, version in sorted(pins.items())))
    ignores = [arg for vuln in PIP_AUDIT_IGNORED for arg in ("--ignore-vuln", vuln)]
    proc = subprocess.run(
        [
            str(BIN / "pip-audit"),
            "-r",
            str(reqs),
            "--no-deps",
            "--disable-pip",
            "-f",
            "json",
            "--progress-spinner",
            "off",
            "--timeout",
            "20",
            *ignores,
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    if not proc.stdout.strip():
        if re.search(r"ConnectionError|gaierror|Max retries|timed out", proc.stderr):
            pytest.skip(
                "pip-audit cannot reach PyPI's vulnerability service: "
                + proc.stderr.strip().splitlines()[-1][:200]
            )
        pytest.fail(f"pip-audit failed: {proc.stderr[-2000:]}")
    report = json.loads(proc.stdout)
    deps = report["dependencies"]
    audited = [d for d in deps if "skip_reason" not in d]
    skipped = [f"{d['name']} ({d['skip_reason']})" for d in deps if "skip_reason" in d]
    if len(audited) < len(deps) // 2:
        pytest.skip(
            f"PyPI's vulnerability data could not be read for {len(skipped)} of {len(deps)} "
            f"pinned dependencies (the index here does not serve /pypi/NAME/VERSION/json), "
            f"e.g. {skipped[0]}"
        )
    vulnerable = [
        f"{d['name']} {d['version']}: {v['id']} (fixed in {', '.join(v['fix_versions']) or '-'})"
        for d in audited
        for v in d["vulns"]
    ]
    assert vulnerable == [], "\n".join(vulnerable)
    assert skipped == [], "not audited: " + "; ".join(skipped)
