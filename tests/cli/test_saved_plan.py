"""`plan --out FILE` and `apply --plan FILE`: a saved plan is applied exactly, or refused in one
line when the inventory, the secret sources or what the plan read in Azure changed since.

Key Vault's SetSecret on an existing name makes a new version of the secret (its description in
Azure/azure-rest-api-specs, specification/keyvault/data-plane/Microsoft.KeyVault/stable/7.4/
secrets.json): the version a plan read is how apply knows the secret was set since.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from support import BIN
from support.clients import secret_client, share_client

from provision.emulator import Emulator
from provision.emulator.requestlog import is_write

SECRET = "TIProviders-VirusTotal-Args-AuthKey"


@pytest.fixture
def key_env(tmp_path: Path) -> dict[str, str]:
    """A plan key of the test's own (the user's would be ~/.config/msticpy-provision/plan.key)."""
    return {"MSTICPY_PROVISION_PLAN_KEY": str(tmp_path / "home" / "plan.key")}


def _script(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # the console script from a folder outside the clone, as a pip-installed admin runs it
    return subprocess.run(
        [str(BIN / "msticpy-provision"), *args],
        cwd=cwd,
        env={**os.environ, **env},
        text=True,
        capture_output=True,
        timeout=300,
        check=False,
    )


def _plan(fleet: Path, emu: Emulator, out: Path, env: dict[str, str], *extra: str) -> None:
    res = _script(
        "plan",
        "-i",
        str(fleet),
        "-e",
        str(emu.endpoints_file),
        "--out",
        str(out),
        *extra,
        cwd=fleet.parent,
        env=env,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"apply -i {fleet} -e {emu.endpoints_file} --plan {out}" in res.stdout


def _apply(
    fleet: Path, emu: Emulator, saved: Path, env: dict[str, str], *extra: str
) -> subprocess.CompletedProcess[str]:
    return _script(
        "apply",
        "-i",
        str(fleet),
        "-e",
        str(emu.endpoints_file),
        "--plan",
        str(saved),
        *extra,
        cwd=fleet.parent,
        env=env,
    )


def _writes_since(emu: Emulator, start: int) -> list[dict[str, Any]]:
    return [r for r in emu.requests()[start:] if is_write(r)]


def _changes(doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """tenant -> its changes, as a saved plan or apply's JSON document lists them."""
    tenants = doc["tenants"]
    return {
        t["tenant"]: [
            {k: i[k] for k in ("kind", "target", "action", "detail")}
            for i in (t.get("changes") or t["items"])
            if i["action"] in {"create", "update", "delete"}
        ]
        for t in tenants
    }


def test_apply_of_a_saved_plan_makes_exactly_its_changes(
    fleet: Path, emu: Emulator, tmp_path: Path, key_env: dict[str, str]
) -> None:
    saved = tmp_path / "contoso.plan"
    _plan(fleet, emu, saved, key_env, "-t", "contoso")
    key = Path(key_env["MSTICPY_PROVISION_PLAN_KEY"])
    assert key.stat().st_mode & 0o777 == 0o600
    doc = json.loads(saved.read_text())
    planned = _changes(doc)
    assert list(planned) == ["contoso"] and planned["contoso"]

    start = len(emu.requests())
    res = _apply(fleet, emu, saved, key_env, "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    assert _changes(json.loads(res.stdout)) == planned  # the plan's tenants and changes, no more
    writes = _writes_since(emu, start)
    assert writes and not any("fabrikam" in r["path"] for r in writes)  # only the plan's tenant

    again = _apply(fleet, emu, saved, key_env)  # applied: the world is no longer the plan's
    assert again.returncode == 1
    assert "error: not applied: changed since the plan was made" in again.stdout


def test_a_saved_plan_is_refused_when_a_secret_changed_since(
    fleet: Path, emu: Emulator, tmp_path: Path, key_env: dict[str, str]
) -> None:
    saved = tmp_path / "p.plan"
    _plan(fleet, emu, saved, key_env, "-t", "contoso")
    vault = next(
        s["target"].split("/")[0]
        for s in json.loads(saved.read_text())["tenants"][0]["changes"]
        if s["kind"] == "secret"
    )
    secret_client(emu, vault).set_secret(SECRET, "set by someone else")
    start = len(emu.requests())
    res = _apply(fleet, emu, saved, key_env)
    assert res.returncode == 1
    out = res.stdout + res.stderr
    assert "not applied: changed since the plan was made: the Key Vault secrets" in out
    assert "Traceback" not in out
    # nothing written but the tenant's lock (its folder, taken to read under it, then let go)
    writes = _writes_since(emu, start)
    assert writes and all("/.msticpy-provision" in r["path"] for r in writes), writes
    assert secret_client(emu, vault).get_secret(SECRET).value == "set by someone else"


def test_a_saved_plan_is_refused_when_a_user_file_changed_since(
    fleet: Path, emu: Emulator, tmp_path: Path, key_env: dict[str, str]
) -> None:
    first = _script(
        "apply",
        "-i",
        str(fleet),
        "-e",
        str(emu.endpoints_file),
        "-t",
        "contoso",
        "--json",
        cwd=fleet.parent,
        env=key_env,
    )
    assert first.returncode == 0, first.stderr
    where = json.loads(first.stdout)["tenants"][0]["resources"]
    source = fleet.parent / "secrets" / "contoso-virustotal.txt"
    source.write_text("a rotated key\n")  # a change to apply: the new value
    saved = tmp_path / "p.plan"
    _plan(fleet, emu, saved, key_env, "-t", "contoso")
    share = share_client(emu, where["storage_account"], share=where["file_share"])
    share.get_file_client("Users/alice/msticpyconfig.yaml").upload_file(b"edited by alice\n")
    res = _apply(fleet, emu, saved, key_env)
    assert res.returncode == 1
    assert "changed since the plan was made: the user files on the share" in res.stdout
    vault = secret_client(emu, "kv-contoso-nb")
    assert vault.get_secret(SECRET).value != "a rotated key"  # the plan's change was not made


def test_a_saved_plan_is_refused_when_the_inventory_changed_before_anything_starts(
    fleet: Path, emu: Emulator, tmp_path: Path, key_env: dict[str, str]
) -> None:
    saved = tmp_path / "p.plan"
    _plan(fleet, emu, saved, key_env)
    fleet.write_text(fleet.read_text() + "\n# an edit\n")
    start = len(emu.requests())
    res = _apply(fleet, emu, saved, key_env)
    assert res.returncode == 1
    assert res.stderr.splitlines() == [
        f"error: {saved}: the inventory {fleet} changed since the plan was saved: "
        "plan again with --out"
    ]
    assert emu.requests()[start:] == []


def test_a_saved_plan_edited_or_saved_with_another_key_is_refused(
    fleet: Path, emu: Emulator, tmp_path: Path, key_env: dict[str, str]
) -> None:
    saved = tmp_path / "p.plan"
    _plan(fleet, emu, saved, key_env)
    doc = json.loads(saved.read_text())
    doc["tenants"][0]["changes"] = doc["tenants"][0]["changes"][:1]
    edited = tmp_path / "edited.plan"
    edited.write_text(json.dumps(doc))
    res = _apply(fleet, emu, edited, key_env)
    assert res.returncode == 1
    assert res.stderr.splitlines() == [
        f"error: {edited}: edited since it was saved: plan again with --out"
    ]
    other = {"MSTICPY_PROVISION_PLAN_KEY": str(tmp_path / "other" / "plan.key")}
    _plan(fleet, emu, tmp_path / "mine.plan", other)  # makes the other key
    res = _apply(fleet, emu, saved, other)
    assert res.returncode == 1
    assert "saved with another plan key than" in res.stderr and len(res.stderr.splitlines()) == 1


def test_apply_plan_takes_the_plans_flags_and_refuses_others(
    fleet: Path, emu: Emulator, tmp_path: Path, key_env: dict[str, str]
) -> None:
    saved = tmp_path / "p.plan"
    _plan(fleet, emu, saved, key_env)
    res = _apply(fleet, emu, saved, key_env, "--prune")
    assert res.returncode == 1
    assert res.stderr.splitlines() == [
        f"error: {saved}: --prune: the saved plan was made with False; leave it out "
        "(apply --plan takes the plan's flags)"
    ]


def test_a_plan_key_others_can_read_is_refused(
    fleet: Path, emu: Emulator, tmp_path: Path, key_env: dict[str, str]
) -> None:
    saved = tmp_path / "p.plan"
    _plan(fleet, emu, saved, key_env)
    key = Path(key_env["MSTICPY_PROVISION_PLAN_KEY"])
    key.chmod(0o644)
    res = _apply(fleet, emu, saved, key_env)
    assert res.returncode == 1
    assert res.stderr.splitlines() == [
        f"error: {key}: the plan key is readable by others (mode 644): chmod 600 {key}"
    ]
