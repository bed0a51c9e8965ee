"""The workspace share and adoption: plan reports plaintext secrets in analysts' own configs, and
`import --from-share` reads an analyst's config from there.

The share is the emulator's Azure Files, written and read with the real azure-storage-file-share
client; plan runs as an admin runs it (`invoke plan`). The key is never printed.
"""

from __future__ import annotations

import json
from pathlib import Path

from azure.storage.fileshare import ShareClient
from support import run_invoke

from provision.emulator import Emulator, seed_tenants_from_inventory
from provision.emulator.seed import storage_account_name
from provision.inventory.load import load_inventory
from provision.workspace import CODE_SHARE

VT_KEY = "DEMO-vt-key-typed-in-by-alice-0451"
ALICE_CONFIG = f"""\
AzureSentinel:
  Workspaces:
    Default:
      WorkspaceId: 0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9
      TenantId: 72f988bf-86f1-41af-91ab-2d7cd011db47
TIProviders:
  VirusTotal:
    Args:
      AuthKey: {VT_KEY}
    Primary: true
    Provider: VirusTotal
  OTX:
    Args:
      AuthKey:
        KeyVault:
    Primary: true
    Provider: OTX
"""
BOB_CONFIG = "TIProviders:\n  OTX:\n    Args:\n      AuthKey:\n        EnvironmentVar: OTX_KEY\n"


def _share(emu: Emulator, fleet: Path, workspace: str) -> ShareClient:
    seed = next(
        t for t in seed_tenants_from_inventory(load_inventory(fleet)) if t.workspace == workspace
    )
    account = storage_account_name(seed)
    return ShareClient(
        account_url=emu.endpoints["files"].format(account=account),
        share_name=CODE_SHARE,
        credential=emu.endpoints["storage_keys"][account],
        connection_verify=str(emu.ca_cert),
    )


def _put(share: ShareClient, alias: str, text: str) -> None:
    for folder in ("Users", f"Users/{alias}"):
        if not share.get_directory_client(folder).exists():
            share.create_directory(folder)
    share.get_file_client(f"Users/{alias}/msticpyconfig.yaml").upload_file(text.encode())


def test_plan_reports_a_plaintext_key_in_an_analysts_config_and_never_its_value(
    fleet: Path, emu: Emulator
) -> None:
    share = _share(emu, fleet, "mlw-contoso-hunting")
    _put(share, "alice", ALICE_CONFIG)
    _put(share, "bob", BOB_CONFIG)
    args = ("plan", "-i", str(fleet), "--endpoints", str(emu.endpoints_file), "-t", "contoso")

    doc = run_invoke(*args, "--json")
    assert doc.returncode == 0, doc.stderr
    assert VT_KEY not in doc.stdout + doc.stderr
    (contoso,) = json.loads(doc.stdout)["tenants"]
    findings = [n for n in contoso["notes"] if n.startswith("plaintext secret")]
    assert findings == [
        "plaintext secret in Users/alice/msticpyconfig.yaml: TIProviders.VirusTotal.Args.AuthKey "
        "holds a literal value (not shown); apply replaces the file with Key Vault references: "
        "rotate that key"
    ]

    table = run_invoke(*args)
    assert table.returncode == 0, table.stderr
    assert VT_KEY not in table.stdout + table.stderr
    assert "plaintext secret in Users/alice/msticpyconfig.yaml" in " ".join(table.stdout.split())


def test_after_apply_the_rendered_configs_hold_no_plaintext_findings(
    fleet: Path, emu: Emulator
) -> None:
    _put(_share(emu, fleet, "mlw-contoso-hunting"), "alice", ALICE_CONFIG)
    base = ("-i", str(fleet), "--endpoints", str(emu.endpoints_file), "-t", "contoso")
    assert run_invoke("apply", *base).returncode == 0
    res = run_invoke("verify", *base, "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    (contoso,) = json.loads(res.stdout)["tenants"]
    assert [n for n in contoso["notes"] if n.startswith("plaintext secret")] == []


def test_import_from_share_reads_the_analysts_config_and_keeps_the_tenants_users(
    fleet: Path, emu: Emulator
) -> None:
    _put(_share(emu, fleet, "mlw-contoso-hunting"), "alice", ALICE_CONFIG)
    base = ("import", "--from-share", "-t", "contoso", "--user", "alice", "-i", str(fleet))
    base += ("--endpoints", str(emu.endpoints_file), "--env-prefix", "CONTOSO")
    before = fleet.read_text(encoding="utf-8")

    refused = run_invoke(*base)
    assert refused.returncode == 1
    assert "add --replace" in refused.stderr
    assert fleet.read_text(encoding="utf-8") == before

    done = run_invoke(*base, "--replace")
    assert done.returncode == 0, done.stderr
    assert VT_KEY not in done.stdout + done.stderr + fleet.read_text(encoding="utf-8")
    assert "CONTOSO_TIPROVIDERS_VIRUSTOTAL_ARGS_AUTHKEY  (TIProviders.VirusTotal.Args.AuthKey)" in (
        done.stderr
    )
    contoso = load_inventory(fleet).select(["contoso"])[0]
    assert [u.alias for u in contoso.users] == ["alice", "bob", "carol.jones"]
    assert contoso.ml_workspace == "mlw-contoso-hunting"
    assert contoso.ti_providers.VirusTotal is not None
    assert contoso.ti_providers.VirusTotal.args.auth_key == (
        "env:CONTOSO_TIPROVIDERS_VIRUSTOTAL_ARGS_AUTHKEY"
    )
    assert contoso.msticpy["TIProviders"]["OTX"]["Args"]["AuthKey"] == {"KeyVault": None}
    assert "# slug: folder and lock names derive from it" in fleet.read_text(encoding="utf-8")


def test_import_from_share_without_a_config_there_is_one_line(fleet: Path, emu: Emulator) -> None:
    res = run_invoke(
        "import", "--from-share", "-t", "contoso", "--user", "bob", "-i", str(fleet),
        "--endpoints", str(emu.endpoints_file), "--replace", "--env-prefix", "X",
    )  # fmt: skip
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        "error: mlw-contoso-hunting:Users/bob/msticpyconfig.yaml: no Users/bob/msticpyconfig.yaml "
        "on the share"
    ]


def test_importing_the_tools_own_config_never_prunes_what_it_references(
    fleet: Path, emu: Emulator
) -> None:
    # "Pick up her edits": the analyst's config is the tool's own rendered file. Its
    # {KeyVault: <name>} references stay references (the msticpy: block); the secrets they name
    # are still read by every analyst, so plan --prune must list no delete for them.
    assert (
        run_invoke("apply", "-i", str(fleet), "--endpoints", str(emu.endpoints_file)).returncode
        == 0
    )
    imported = run_invoke(
        "import", "--from-share", "-t", "contoso", "--user", "alice", "-i", str(fleet),
        "--endpoints", str(emu.endpoints_file), "--replace", "--env-prefix", "CONTOSO",
    )  # fmt: skip
    assert imported.returncode == 0, imported.stdout + imported.stderr
    plan = run_invoke(
        "plan", "-t", "contoso", "--prune", "--json", "-i", str(fleet),
        "--endpoints", str(emu.endpoints_file),
    )  # fmt: skip
    assert plan.returncode == 0, plan.stdout + plan.stderr
    [tenant] = json.loads(plan.stdout)["tenants"]
    deletes = [i["target"] for i in tenant["items"] if i["action"] == "delete"]
    assert not [t for t in deletes if t.startswith("kv-contoso-nb/")], deletes
