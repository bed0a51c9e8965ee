"""Plan reports plaintext secrets in the analysts' own msticpyconfig.yaml files on the share.

The share is the emulator's Azure Files, written and read with the real azure-storage-file-share
client; plan runs as an admin runs it (`invoke plan`). The key is never printed.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.storage.fileshare import ShareClient
from support import EXAMPLE, run_invoke

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


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLE.parent, tmp_path / "fleet")
    return tmp_path / "fleet" / "inventory.yaml"


@pytest.fixture
def emu(tmp_path: Path, fleet: Path) -> Iterator[Emulator]:
    with Emulator(tmp_path / "emu") as e:
        e.seed(seed_tenants_from_inventory(load_inventory(fleet)))
        yield e


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
