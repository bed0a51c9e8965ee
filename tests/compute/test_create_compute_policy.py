"""create-compute applies the user's compute policy, tags the instance, and refuses up front where
Azure could not create it.

Azure facts relied on:
- ComputeInstanceProperties of machinelearningservices stable/2025-12-01 (as azure-ai-ml 1.35
  generates them) carry `idleTimeBeforeShutdown`, `schedules` and `enableSSO`; Computes carry
  `tags` and `identity` (ComputeResource).
- Microsoft Learn, "Create a compute instance", prerequisites: "In the storage account, the
  'Allow storage account key access' option must be enabled for compute instance creation to be
  successful."
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from azure.core.rest import HttpRequest
from support import EXAMPLE, run_invoke
from support.clients import ml_client

from provision.emulator import Emulator, seed_tenants_from_inventory
from provision.inventory.load import load_inventory

SUB = "3f2b6c1e-8a4d-4c3b-9e1f-5a6b7c8d9e0f"
RG = "rg-contoso-soc"
WS = (
    f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/"
    "Microsoft.MachineLearningServices/workspaces/mlw-contoso-hunting"
)
FRANK_OID = "11111111-2222-4333-8444-555555555555"
CAROL = "      - {alias: carol.jones, compute: carol-hunting}\n"
FRANK = (
    f"      - alias: frank\n        object_id: {FRANK_OID}\n        compute_policy:\n"
    "          idle_shutdown: PT2H\n"
    "          schedules:\n"
    "            - {action: start, cron: '30 7 * * 1-5', time_zone: W. Europe Standard Time}\n"
    "            - {action: stop, cron: '0 19 * * 1-5', time_zone: W. Europe Standard Time}\n"
)
PROGRAMS = Path(__file__).parent / "programs"


def _fleet(tmp_path: Path, emu: Emulator) -> Path:
    """The example fleet, seeded (each user has an instance), then frank added: he has none."""
    shutil.copytree(EXAMPLE.parent, tmp_path / "fleet")
    inv = tmp_path / "fleet" / "inventory.yaml"
    emu.seed(seed_tenants_from_inventory(load_inventory(inv)))
    inv.write_text(inv.read_text().replace(CAROL, CAROL + FRANK))
    return inv


def _frank_compute(inv: Path) -> str:
    t = load_inventory(inv).tenants[0]
    return next(u.compute_name for u in t.user_list if u.alias == "frank")


def _create(inv: Path, emu: Emulator) -> subprocess.CompletedProcess[str]:
    return run_invoke(
        "create-compute", "-i", str(inv), "-t", "contoso", "--user", "frank",
        "--endpoints", str(emu.endpoints_file),
    )  # fmt: skip


def _read_with_azure_ai_ml(emu: Emulator, name: str) -> list[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AZURE_", "AZUREML_", "IDENTITY_", "MSI_", "ARM_"))
        and k not in {"REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"}
    }
    res = subprocess.run(
        ["bash", "-c", 'source "$1" && shift && exec "$@"', "sh", emu.endpoints["env_file"],
         sys.executable, str(PROGRAMS / "ml_compute_policy.py"), SUB, RG, "mlw-contoso-hunting",
         name],
        capture_output=True, text=True, timeout=180, env=env, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout.splitlines()


@pytest.mark.slow
def test_create_compute_applies_the_users_policy_and_tags_the_instance(tmp_path: Path) -> None:
    with Emulator(tmp_path / "emu") as emu:
        inv = _fleet(tmp_path, emu)
        name = _frank_compute(inv)
        ep = str(emu.endpoints_file)
        applied = run_invoke("apply", "-i", str(inv), "-t", "contoso", "--endpoints", ep)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        emu.backend.arm.lro_seconds = 0
        res = _create(inv, emu)
        assert res.returncode == 0, res.stdout + res.stderr
        assert "idle shutdown after PT2H" in res.stdout

        # a raw ARM GET at the API version the tool writes
        ml = ml_client(emu, SUB)
        got = ml._send_request(
            HttpRequest("GET", f"{WS}/computes/{name}?api-version=2025-12-01")
        ).json()
        inner = got["properties"]["properties"]
        # the user's PT2H (over the defaults' PT60M), written in minutes as Azure's clients do
        assert inner["idleTimeBeforeShutdown"] == "PT120M"
        assert inner["vmSize"] == "Standard_DS3_v2"  # defaults.compute_policy.vm_size
        # made on behalf of frank: SSO starts off whatever the policy says; only he can turn it on
        assert inner["enableSSO"] is False
        crons = [
            (s["action"], s["cron"]["expression"], s["cron"]["timeZone"])
            for s in inner["schedules"]["computeStartStop"]
        ]
        assert crons == [
            ("Start", "30 7 * * 1-5", "W. Europe Standard Time"),
            ("Stop", "0 19 * * 1-5", "W. Europe Standard Time"),
        ]
        assert got["tags"] == {
            "managed-by": "msticpy-provision",
            "tenant": "contoso",
            "alias": "frank",
        }

        # and as azure-ai-ml's MLClient reads it
        lines = _read_with_azure_ai_ml(emu, name)
        assert "idle_minutes 120" in lines
        assert "schedule ComputePowerAction.START 30 7 * * 1-5 W. Europe Standard Time" in lines
        assert "schedule ComputePowerAction.STOP 0 19 * * 1-5 W. Europe Standard Time" in lines


def test_create_compute_refuses_up_front_where_storage_refuses_shared_key(tmp_path: Path) -> None:
    with Emulator(tmp_path / "emu") as emu:
        inv = _fleet(tmp_path, emu)
        ws = emu.backend.arm.workspace(SUB, RG, "mlw-contoso-hunting")
        account = emu.backend.arm.find_named("storage", ws.storage_account)
        assert account is not None
        account.properties["allowSharedKeyAccess"] = False
        emu.backend.arm.changed()
        start = len(emu.requests())
        res = _create(inv, emu)
        assert res.returncode == 1
        assert "does not allow Shared Key" in res.stderr
        assert "'Allow storage account key access' option must be enabled" in res.stderr
        assert "Traceback" not in res.stderr
        ops = [e["op"] for e in emu.requests()[start:] if e["service"] == "arm"]
        assert "CreateOrUpdateCompute" not in ops  # refused before anything was sent
