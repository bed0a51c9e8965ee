"""A no-op apply trusts what the last apply that wrote recorded as checked; plan never does.

What an apply checked before writing is kept in the tenant's manifest (state.json on the share):
the names of the secrets tagged for the tenant in each of its vaults, and the Sentinel workspaces
found as the inventory describes them. The next apply's first read uses that record instead of
listing the vaults (Key Vault "Get Secrets", `GET {vault}/secrets`) and reading the Log Analytics
workspaces (`GET .../Microsoft.OperationalInsights/workspaces/{name}`), so an apply with nothing
to do reads only what it would change. `plan` and `verify` read both again; `--prune` and any
apply that writes list the vaults; a changed inventory entry is never trusted. All of it is
checked here in the emulator's request log (each entry names the Azure operation) and through
the SDK clients.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lifecycle_helpers import (
    FABRIKAM_VAULT,
    edit,
    plan_items,
    read,
    share_of,
    tool,
    vault,
    writes_since,
)

from provision.emulator import Emulator
from provision.share import manifest_path
from provision.vault import MANAGED_BY

CHANGING = {"create", "update", "delete"}
LIST_SECRETS = "GetSecrets"
READ_LAW = "GetLogAnalyticsWorkspace"
OLD_VT = "TIProviders-VirusTotal-Args-AuthKey"
VT_TO_OTX = (
    '      VirusTotal:\n        args: {auth_key: "file:secrets/fabrikam-virustotal.txt"}\n',
    '      OTX:\n        args: {auth_key: "file:secrets/fabrikam-virustotal.txt"}\n',
)


def ops_of(emu: Emulator, start: int) -> list[str]:
    return [str(r.get("op")) for r in emu.requests()[start:]]


def apply_doc(fleet: Path, emu: Emulator, *extra: str) -> tuple[dict[str, Any], list[str]]:
    """`apply --json` and the operations it sent."""
    start = len(emu.requests())
    res = tool("apply", fleet, emu, "--json", *extra)
    assert res.returncode == 0, res.stdout + res.stderr
    return json.loads(res.stdout), ops_of(emu, start)


def orphan_targets(doc: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (i["target"], i["action"])
        for t in doc["tenants"]
        for i in t["items"]
        if "orphan" in i["detail"]
    ]


def manifest_of(emu: Emulator, fleet: Path, tenant: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(read(share_of(emu, fleet, tenant), manifest_path(tenant)))
    return doc


def test_noop_apply_lists_no_vault_and_reads_no_sentinel_workspace(
    fleet: Path, emu: Emulator
) -> None:
    _, first_ops = apply_doc(fleet, emu)
    assert LIST_SECRETS in first_ops and READ_LAW in first_ops  # nothing recorded yet
    recorded = manifest_of(emu, fleet, "contoso")
    assert recorded["sentinel"] and recorded["secrets"]
    assert "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9" in recorded["sentinel"].values()

    again, noop_ops = apply_doc(fleet, emu)
    assert [i for t in again["tenants"] for i in t["items"] if i["action"] in CHANGING] == []
    assert LIST_SECRETS not in noop_ops
    assert READ_LAW not in noop_ops
    assert "GetSecret" in noop_ops  # the values are still compared, one read each

    start = len(emu.requests())
    plan_items(fleet, emu)
    plan_ops = ops_of(emu, start)
    assert LIST_SECRETS in plan_ops
    assert plan_ops.count(READ_LAW) == 3  # contoso's two workspaces, fabrikam's one


def test_a_changed_sentinel_entry_is_checked_before_apply_writes(
    fleet: Path, emu: Emulator
) -> None:
    assert tool("apply", fleet, emu).returncode == 0
    wrong = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8fa"
    edit(
        fleet,
        "workspace_id: 0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9",
        f"workspace_id: {wrong}",
    )
    start = len(emu.requests())
    res = tool("apply", fleet, emu, "-t", "contoso")
    assert res.returncode == 1
    assert f"workspace_id {wrong} is not the id of Log Analytics workspace" in res.stdout
    line = fleet.read_text().splitlines().index(f"        workspace_id: {wrong}") + 1
    assert f"inventory.yaml:{line}:" in res.stdout  # the line of the entry's workspace_id
    assert ops_of(emu, start).count(READ_LAW) == 1  # the changed entry; ContosoDev as recorded
    assert writes_since(emu, start) == []


def test_orphans_are_reported_from_the_record_until_pruned(fleet: Path, emu: Emulator) -> None:
    assert tool("apply", fleet, emu).returncode == 0
    edit(fleet, *VT_TO_OTX)
    changed, ops = apply_doc(fleet, emu, "-t", "fabrikam")
    # The apply wrote (the new secret, the configs): it listed the vault under the lock.
    assert LIST_SECRETS in ops
    old = (f"{FABRIKAM_VAULT}/{OLD_VT}", "report")
    assert orphan_targets(changed) == [old]
    assert OLD_VT in manifest_of(emu, fleet, "fabrikam")["secrets"][FABRIKAM_VAULT]

    noop, ops = apply_doc(fleet, emu, "-t", "fabrikam")
    assert LIST_SECRETS not in ops
    assert orphan_targets(noop) == [old]  # still reported, from the record

    pruned, ops = apply_doc(fleet, emu, "-t", "fabrikam", "--prune")
    assert LIST_SECRETS in ops  # deleting is decided on the vault's own listing
    assert orphan_targets(pruned) == [(old[0], "delete")]
    assert OLD_VT not in manifest_of(emu, fleet, "fabrikam")["secrets"][FABRIKAM_VAULT]
    after, ops = apply_doc(fleet, emu, "-t", "fabrikam")
    assert orphan_targets(after) == [] and LIST_SECRETS not in ops


def test_a_manifest_without_the_record_means_listing(fleet: Path, emu: Emulator) -> None:
    """A manifest written by an earlier version (files only) or edited by hand is not trusted."""
    assert tool("apply", fleet, emu).returncode == 0
    share = share_of(emu, fleet, "fabrikam")
    doc = manifest_of(emu, fleet, "fabrikam")
    del doc["secrets"], doc["sentinel"]
    share.get_file_client(manifest_path("fabrikam")).upload_file(json.dumps(doc).encode())
    _, ops = apply_doc(fleet, emu, "-t", "fabrikam")
    assert LIST_SECRETS in ops and READ_LAW in ops


def test_plan_sees_what_a_noop_apply_trusts(fleet: Path, emu: Emulator) -> None:
    """The trade made: a secret tagged for the tenant by someone else since the last apply is
    not in a no-op apply's report, but plan (and the daily drift plan) reports it."""
    assert tool("apply", fleet, emu).returncode == 0
    stray = "Stray-Tagged-Secret"
    vault(emu, FABRIKAM_VAULT).set_secret(
        stray, "x", tags={"managed-by": MANAGED_BY, "tenant": "fabrikam"}
    )
    noop, _ = apply_doc(fleet, emu, "-t", "fabrikam")
    assert orphan_targets(noop) == []
    planned = plan_items(fleet, emu, "-t", "fabrikam")
    assert [(i["target"], i["action"]) for i in planned if "orphan" in i["detail"]] == [
        (f"{FABRIKAM_VAULT}/{stray}", "report")
    ]
