"""The notebooks share is analysts' ground: nothing written there can hide a change or trigger a
delete.

Every workspace user can read and write every file on the share (Azure ML docs, "The files in the
file share are accessible from all compute instances in the same workspace"; DESIGN.md, third
review). The hostile writer here uses only that: the share, with the account's data access. The
tool's record is trusted only when its SHA-256 matches the digest the tool keeps in Key Vault,
where analysts (Key Vault Secrets User) can read but not write.
"""

from __future__ import annotations

import json
from pathlib import Path

from lifecycle_helpers import ERIN, folder_names, plan_items, read, share_of, tool, vault
from test_offboard import _offboard

from provision.emulator import Emulator
from provision.share import manifest_path

ALICE = "Users/alice/msticpyconfig.yaml"
NOTEBOOK = "Users/dave/work.ipynb"


def _forge(share: object, tenant: str, change: dict[str, dict[str, str]]) -> None:
    """Rewrite the tenant's record on the share as an analyst could."""
    path = manifest_path(tenant)
    record = json.loads(read(share, path))  # type: ignore[arg-type]
    record["files"].update(change)
    share.get_file_client(path).upload_file(json.dumps(record).encode())  # type: ignore[attr-defined]


def test_a_same_size_edit_with_a_forged_record_is_planned(fleet: Path, emu: Emulator) -> None:
    assert tool("apply", fleet, emu).returncode == 0
    share = share_of(emu, fleet, "contoso")
    original = read(share, ALICE)
    record = json.loads(read(share, manifest_path("contoso")))
    assert b"virustotal" in original.lower()
    edited = original.replace(b"VirusTotal", b"VirusTotaX", 1)  # same size, other bytes
    assert len(edited) == len(original) and edited != original
    share.get_file_client(ALICE).upload_file(edited)
    etag = share.get_file_client(ALICE).get_file_properties().etag.strip('"')
    # The forger keeps the recorded MD5 (of the desired bytes) and writes the new ETag.
    _forge(share, "contoso", {ALICE: {**record["files"][ALICE], "etag": etag}})

    res = tool("plan", fleet, emu, "-t", "contoso", "--detailed-exitcode")
    assert res.returncode == 2, res.stdout + res.stderr
    assert ALICE in res.stdout
    assert "does not match its digest" in res.stdout
    # the drift job's plan is the same command with --json: the item is an update
    [item] = [i for i in plan_items(fleet, emu, "-t", "contoso") if i["target"] == ALICE]
    assert item["action"] == "update"
    # apply puts it right and records anew: the next plan is clean and trusts the record
    assert tool("apply", fleet, emu, "-t", "contoso").returncode == 0
    again = tool("plan", fleet, emu, "-t", "contoso", "--detailed-exitcode")
    assert again.returncode == 0 and "digest" not in again.stdout, again.stdout


def test_a_forged_record_cannot_get_a_notebook_pruned(fleet: Path, emu: Emulator) -> None:
    assert tool("apply", fleet, emu).returncode == 0
    share = share_of(emu, fleet, "fabrikam")
    share.get_file_client(NOTEBOOK).upload_file(b'{"cells": []}')
    etag = share.get_file_client(NOTEBOOK).get_file_properties().etag.strip('"')
    _forge(share, "fabrikam", {NOTEBOOK: {"etag": etag, "md5": "0" * 32}})

    items = plan_items(fleet, emu, "-t", "fabrikam", "--prune")
    assert not [i for i in items if i["target"] == NOTEBOOK]
    assert tool("apply", fleet, emu, "-t", "fabrikam", "--prune").returncode == 0
    assert read(share, NOTEBOOK) == b'{"cells": []}'
    # Offboarding with a forged record: the record is ignored (and said so), so the tool can
    # prove no file its own and deletes none; the notebook stays.
    _forge(share, "fabrikam", {NOTEBOOK: {"etag": etag, "md5": "0" * 32}})
    _offboard(fleet)
    res = tool("apply", fleet, emu, "-t", "fabrikam")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "does not match its digest" in res.stdout
    assert read(share, NOTEBOOK) == b'{"cells": []}'


def test_offboarding_prunes_only_the_tools_files(fleet: Path, emu: Emulator) -> None:
    assert tool("apply", fleet, emu).returncode == 0
    share = share_of(emu, fleet, "fabrikam")
    share.get_file_client(NOTEBOOK).upload_file(b'{"cells": []}')
    _offboard(fleet)
    assert tool("apply", fleet, emu, "-t", "fabrikam").returncode == 0
    assert folder_names(share, "Users/dave") == {"work.ipynb"}


def test_a_removed_analysts_unrendered_file_is_never_an_orphan(fleet: Path, emu: Emulator) -> None:
    # Even in a record the tool wrote, only the file kinds it renders are orphan candidates.
    assert tool("apply", fleet, emu).returncode == 0
    share = share_of(emu, fleet, "fabrikam")
    share.get_file_client("Users/erin/notes.txt").upload_file(b"mine")
    fleet.write_text(fleet.read_text(encoding="utf-8").replace(ERIN, ""), encoding="utf-8")
    assert tool("apply", fleet, emu, "-t", "fabrikam", "--prune").returncode == 0
    assert folder_names(share, "Users/erin") >= {"notes.txt"}
    assert "msticpyconfig.yaml" not in folder_names(share, "Users/erin")


def test_oversized_files_on_the_share_are_not_read_whole(fleet: Path, emu: Emulator) -> None:
    assert tool("apply", fleet, emu).returncode == 0
    share = share_of(emu, fleet, "contoso")
    big = b"#" * (50 * 1024 * 1024)
    share.get_file_client(manifest_path("contoso")).upload_file(big)
    share.get_file_client(ALICE).upload_file(big)
    start = len(emu.requests())

    res = tool("plan", fleet, emu, "-t", "contoso")
    assert res.returncode == 0, res.stdout + res.stderr
    notes = [line for line in res.stdout.splitlines() if "over the 1,024 KiB" in line]
    assert any("state.json" in n for n in notes) and any(ALICE in n for n in notes), res.stdout
    gets = [r for r in emu.requests()[start:] if r["method"] == "GET" and r["op"] == "GetFile"]
    assert not [r for r in gets if "msticpyconfig.yaml" in r["path"] and "alice" in r["path"]]
    state = [r for r in gets if "state.json" in r["path"]]
    assert state and all(r["status"] == 206 for r in state)  # a ranged read, never the whole file


def test_a_backup_of_a_hand_made_config_holds_no_plaintext_key(fleet: Path, emu: Emulator) -> None:
    assert tool("apply", fleet, emu).returncode == 0
    share = share_of(emu, fleet, "contoso")
    key = "REAL-VT-KEY-7f3a9c21e4b8"
    hand_made = (
        "# alice's own config\n"
        "TIProviders:\n"
        "  VirusTotal:\n"
        "    Args:\n"
        f"      AuthKey: {key}\n"
        "    Primary: true\n"
        "    Provider: VirusTotal\n"
    ).encode()
    share.get_file_client(ALICE).upload_file(hand_made)

    [item] = [i for i in plan_items(fleet, emu, "-t", "contoso") if i["target"] == ALICE]
    assert "redacted" in item["detail"]
    res = tool("apply", fleet, emu, "-t", "contoso")
    assert res.returncode == 0 and key not in res.stdout + res.stderr
    folder = "Users/alice/.msticpy-provision-backups"
    [backup] = folder_names(share, folder)
    kept = read(share, f"{folder}/{backup}").decode()
    assert key not in kept
    assert "TIProviders.VirusTotal.Args.AuthKey" in kept and "# alice's own config" in kept


def test_a_foreign_lease_on_the_lock_is_reported_and_refused(fleet: Path, emu: Emulator) -> None:
    share = share_of(emu, fleet, "contoso")
    share.get_directory_client(".msticpy-provision").create_directory()
    share.get_directory_client(".msticpy-provision/contoso").create_directory()
    lock = share.get_file_client(".msticpy-provision/contoso/lock")
    lock.create_file(0)
    lock.acquire_lease()  # as any workspace user can: no holder record, never released

    planned = tool("plan", fleet, emu, "-t", "contoso")
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "held by something other than this tool" in planned.stdout
    applied = tool("apply", fleet, emu, "-t", "contoso")
    assert applied.returncode == 1
    [line] = [x for x in applied.stdout.splitlines() if "held by something other" in x]
    assert "not applied" in line and "--break-lock" in line
    assert "Traceback" not in applied.stdout + applied.stderr
    broke = tool("apply", fleet, emu, "-t", "contoso", "--break-lock")
    assert broke.returncode == 0, broke.stdout + broke.stderr
    assert tool("plan", fleet, emu, "-t", "contoso", "--detailed-exitcode").returncode == 0


def test_a_pull_request_plan_reads_no_secret_value_and_no_file(fleet: Path, emu: Emulator) -> None:
    assert tool("apply", fleet, emu).returncode == 0
    for secret_file in (fleet.parent / "secrets").iterdir():
        secret_file.unlink()  # a pull request's job has no secret source at all
    start = len(emu.requests())
    res = tool("plan", fleet, emu, "--no-secret-values", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    doc = json.loads(res.stdout)
    secrets = [i for t in doc["tenants"] for i in t["items"] if i["kind"] == "secret"]
    assert secrets and all(
        i["detail"] == "value not compared (--no-secret-values)" for i in secrets
    )
    files = [i for t in doc["tenants"] for i in t["items"] if i["kind"] == "file"]
    assert files and {i["action"] for i in files} == {"report"}
    seen = emu.requests()[start:]
    assert not [r for r in seen if r["service"] == "files"]  # no listing, no content
    assert not [r for r in seen if r["op"] in {"GetSecret", "ListWorkspaceKeys"}]
    # a secret deleted from the vault is still seen, by its metadata alone
    vault_client = vault(emu, "kv-contoso-nb")
    vault_client.begin_delete_secret("TIProviders-OTX-Args-AuthKey").result()
    again = tool("plan", fleet, emu, "-t", "contoso", "--no-secret-values", "--detailed-exitcode")
    assert again.returncode == 2 and "TIProviders-OTX-Args-AuthKey" in again.stdout


def test_delete_computes_takes_only_instances_azure_marks_as_this_tenants(
    fleet: Path, emu: Emulator
) -> None:
    # Tenants sharing a workspace: another tenant's instance for its analyst zed sits beside
    # fabrikam's. A record forged to name zed as fabrikam's must not get it deleted: the tags
    # Azure keeps on each instance (written by create-compute) decide, never the share.
    from provision.azure import Clients, load_endpoints_file
    from provision.compute import _put_and_wait, compute_body, compute_tags
    from provision.inventory.load import load_inventory
    from provision.workspace import discover

    assert tool("apply", fleet, emu).returncode == 0
    emu.backend.arm.lro_seconds = 0
    t = next(x for x in load_inventory(fleet).tenants if x.name == "fabrikam")
    clients = Clients(0, load_endpoints_file(str(emu.endpoints_file)))
    try:
        location = discover(clients, t).location
        for name, alias, owner in (
            ("fab-dave-ci", "dave", "fabrikam"),
            ("ctso-zed-ci", "zed", "contoso"),
            # tagged for contoso, yet its launcher is pinned for an alias fabrikam also has
            ("ctso-dave-ci", "dave", "contoso"),
        ):
            body = compute_body(
                location, "Standard_DS3_v2", alias, tenant_id=t.tenant_id,
                object_id=t.tenant_id, script=b"x", tags=compute_tags(owner, alias),
            )  # fmt: skip
            assert _put_and_wait(clients, t, name, body) == "Succeeded"
    finally:
        clients.close()
    share = share_of(emu, fleet, "fabrikam")
    zed = "Users/zed/msticpyconfig.yaml"
    _forge(share, "fabrikam", {zed: {"etag": "0x1", "md5": "0" * 32}})
    _offboard(fleet)

    res = tool("apply", fleet, emu, "-t", "fabrikam", "--delete-computes")
    assert res.returncode == 0, res.stdout + res.stderr
    listed = {c["name"] for c in _computes(emu, t)}
    assert {"ctso-zed-ci", "ctso-dave-ci"} <= listed and "fab-dave-ci" not in listed


def _computes(emu: Emulator, t: object) -> list[dict[str, object]]:
    from azure.core.rest import HttpRequest
    from support.clients import ml_client

    from provision.workspace import COMPUTE_API_VERSION, workspace_path

    ml = ml_client(emu, t.subscription_id)  # type: ignore[attr-defined]
    url = f"{workspace_path(t)}/computes?api-version={COMPUTE_API_VERSION}"  # type: ignore[arg-type]
    return list(ml._send_request(HttpRequest("GET", url)).json()["value"])
