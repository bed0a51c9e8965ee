"""plan / apply / verify against the emulator, read back through the official SDK clients."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from azure.storage.fileshare import ShareClient, ShareLeaseClient
from support import BIN, EXAMPLE, run_invoke
from support.clients import secret_client, share_client

from provision.emulator import Emulator, seed_tenants_from_inventory
from provision.emulator.requestlog import is_write
from provision.inventory.load import load_inventory
from provision.render import render_tenants
from provision.share import lock_path
from provision.workspace import CODE_SHARE


def _log_since(emu: Emulator, start: int) -> list[dict[str, Any]]:
    return emu.requests()[start:]


def _writes(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if is_write(r)]


def _share(emu: Emulator, account: str) -> ShareClient:
    return share_client(emu, account, share=CODE_SHARE)


def _account_of(emu: Emulator, tenant: str) -> str:
    from provision.emulator.seed import storage_account_name

    inv_tenant = next(t for t in seed_tenants_from_inventory(_INV) if t.workspace == tenant)
    return storage_account_name(inv_tenant)


_INV = load_inventory(EXAMPLE)


def _apply(
    fleet: Path, emu: Emulator, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_invoke(
        "apply", "-i", str(fleet), "--endpoints", str(emu.endpoints_file), *extra, env=env
    )


def test_apply_brings_every_secret_and_file_to_the_inventory(fleet: Path, emu: Emulator) -> None:
    res = _apply(fleet, emu)
    assert res.returncode == 0, res.stdout + res.stderr
    inv = load_inventory(fleet)
    renders = render_tenants(inv, [])
    for r in renders:
        # every secret, under the names msticpy resolves (tests/render/test_msticpy_oracle.py)
        for push in r.pushes:
            secret = secret_client(emu, push.vault).get_secret(push.name)
            expected = (fleet.parent / push.source.removeprefix("file:")).read_text().strip()
            assert secret.value == expected
            assert secret.properties.tags["managed-by"] == "msticpy-provision"
            assert secret.properties.tags["tenant"] == r.tenant.name
        # every rendered file, byte for byte, in each user's folder
        share = _share(emu, _account_of(emu, r.tenant.ml_workspace))
        for alias, files in r.user_files.items():
            for name, f in files.items():
                got = share.get_file_client(f"Users/{alias}/{name}").download_file().readall()
                assert got == f.content, f"{alias}/{name}"


def test_rerun_writes_nothing_and_plan_reports_no_changes(fleet: Path, emu: Emulator) -> None:
    assert _apply(fleet, emu).returncode == 0
    start = len(emu.requests())
    plan = run_invoke(
        "plan", "-i", str(fleet), "--endpoints", str(emu.endpoints_file), "--detailed-exitcode"
    )
    assert plan.returncode == 0, plan.stdout + plan.stderr
    again = _apply(fleet, emu)
    assert again.returncode == 0
    assert "0 created, 0 updated, 0 deleted" in again.stdout
    rows = _log_since(emu, start)
    assert rows, "the rerun must read"
    assert _writes(rows) == []


def test_changed_secret_value_changes_exactly_that_secret(fleet: Path, emu: Emulator) -> None:
    assert _apply(fleet, emu).returncode == 0
    (fleet.parent / "secrets" / "contoso-otx.txt").write_text("DEMO-ROTATED-OTX-KEY\n")
    plan = run_invoke(
        "plan",
        "-i",
        str(fleet),
        "--endpoints",
        str(emu.endpoints_file),
        "--json",
        "--detailed-exitcode",
    )
    assert plan.returncode == 2, plan.stderr
    doc = json.loads(plan.stdout)
    changed = [
        (t["tenant"], i["target"])
        for t in doc["tenants"]
        for i in t["items"]
        if i["action"] in {"create", "update", "delete"}
    ]
    assert changed == [("contoso", "kv-contoso-nb/TIProviders-OTX-Args-AuthKey")]
    assert "DEMO-ROTATED-OTX-KEY" not in plan.stdout + plan.stderr
    start = len(emu.requests())
    assert _apply(fleet, emu).returncode == 0
    writes = [w for w in _writes(_log_since(emu, start)) if w["service"] == "keyvault"]
    assert [w["op"] for w in writes] == ["SetSecret"]
    value = secret_client(emu, "kv-contoso-nb").get_secret("TIProviders-OTX-Args-AuthKey").value
    assert value == "DEMO-ROTATED-OTX-KEY"


def test_changed_template_updates_exactly_those_files(
    fleet: Path, emu: Emulator, tmp_path: Path
) -> None:
    assert _apply(fleet, emu).returncode == 0
    templates = tmp_path / "templates"
    shutil.copytree(EXAMPLE.parent.parent / "templates", templates)
    t = templates / "config.json.j2"
    t.write_text(t.read_text().replace("{{ config | json }}", "{{ config | json(4) }}"))
    plan = run_invoke(
        "plan",
        "-i",
        str(fleet),
        "--endpoints",
        str(emu.endpoints_file),
        "--json",
        "--templates",
        str(templates),
    )
    doc = json.loads(plan.stdout)
    changed = sorted(
        i["target"] for t in doc["tenants"] for i in t["items"] if i["action"] == "update"
    )
    assert changed == sorted(
        f"Users/{a}/config.json" for a in ("alice", "bob", "carol.jones", "dave", "erin")
    )
    start = len(emu.requests())
    assert _apply(fleet, emu, "--templates", str(templates)).returncode == 0
    renamed = [w["path"] for w in _writes(_log_since(emu, start)) if w["op"] == "RenameFile"]
    assert sorted(p.rsplit("/", 1)[-1].split("?")[0] for p in renamed).count("config.json") >= 5
    # Key Vault gets only the new digest of each tenant's record (provision.tenant.record)
    kv_writes = [w for w in _writes(_log_since(emu, start)) if w["service"] == "keyvault"]
    assert kv_writes and all("msticpy-provision-record-" in w["path"] for w in kv_writes)


def test_apply_waits_for_or_names_the_holder_of_the_tenant_lock(fleet: Path, emu: Emulator) -> None:
    assert _apply(fleet, emu).returncode == 0
    (fleet.parent / "secrets" / "fabrikam-virustotal.txt").write_text("DEMO-NEW-VT\n")
    share = _share(emu, _account_of(emu, "mlw-fabrikam"))
    lock = share.get_file_client(lock_path("fabrikam"))
    lease = lock.acquire_lease()
    lock.set_file_metadata(
        {
            "holder": "admin@laptop",
            "host": "laptop",
            "pid": "4242",
            "acquired": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
        lease=lease,
    )
    blocked = _apply(fleet, emu, "-t", "fabrikam")
    assert blocked.returncode == 1
    assert "locked by admin@laptop (pid 4242 on laptop)" in blocked.stdout
    assert "Traceback" not in blocked.stderr
    releaser = threading.Timer(1.5, lease.release)
    releaser.start()
    waited = _apply(fleet, emu, "-t", "fabrikam", "--lock-timeout", "20")
    releaser.join()
    assert waited.returncode == 0, waited.stdout + waited.stderr
    vt = secret_client(emu, "kv-fabrikam-nb").get_secret("TIProviders-VirusTotal-Args-AuthKey")
    assert vt.value == "DEMO-NEW-VT"
    lease_after = ShareLeaseClient(lock)
    lease_after.acquire()  # the apply released its lease
    lease_after.release()


def test_two_applies_started_together_end_in_the_right_state(fleet: Path, emu: Emulator) -> None:
    """Locks are per tenant: each tenant is applied by one run; the other names the lock."""
    emu.set_latency(20)
    procs = [
        subprocess.Popen(
            [
                str(BIN / "invoke"),
                "apply",
                "-i",
                str(fleet),
                "--json",
                "--endpoints",
                str(emu.endpoints_file),
            ],
            cwd=EXAMPLE.parent.parent,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=240) for p in procs]
    applied_by: dict[str, list[str]] = {"contoso": [], "fabrikam": []}
    for proc, (out, err) in zip(procs, outs, strict=True):
        assert proc.returncode in (0, 1), err
        assert "Traceback" not in err
        for tenant in json.loads(out)["tenants"]:
            if tenant["ok"]:
                applied_by[tenant["tenant"]].append("ok")
            else:
                assert "locked by" in tenant["error"], tenant["error"]
    # A run that finds the tenant already done has nothing to lock, so both may report ok.
    assert all(applied_by.values()), applied_by
    emu.set_latency(0)
    verify = run_invoke("verify", "-i", str(fleet), "--endpoints", str(emu.endpoints_file))
    assert verify.returncode == 0, verify.stdout


def test_missing_workspace_fails_that_tenant_and_the_others_complete(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet"
    shutil.copytree(EXAMPLE.parent, fleet)
    inv_path = fleet / "inventory.yaml"
    with Emulator(tmp_path / "emu") as emu:
        emu.seed(
            [
                t
                for t in seed_tenants_from_inventory(load_inventory(inv_path))
                if t.workspace != "mlw-fabrikam"
            ]
        )
        res = run_invoke("apply", "-i", str(inv_path), "--endpoints", str(emu.endpoints_file))
        assert res.returncode == 1
        assert "fabrikam: FAILED" in res.stdout
        # The emulator knows nothing of fabrikam, not even its Entra tenant: signing in to it
        # fails first (as Entra ID answers for an unknown tenant), naming the tenant's workspace.
        assert "resource group 'rg-fabrikam-sentinel' not found" in res.stdout or (
            "mlw-fabrikam" in res.stdout
            and ("not found" in res.stdout or "authentication failed" in res.stdout)
        )
        assert "contoso: ok" in res.stdout
        assert "Traceback" not in res.stderr
        verify = run_invoke(
            "verify", "-i", str(inv_path), "--endpoints", str(emu.endpoints_file), "-t", "contoso"
        )
        assert verify.returncode == 0


def test_permission_error_names_the_probable_missing_role(fleet: Path, emu: Emulator) -> None:
    emu.deny("/subscriptions/6c7d8e9f-0a1b-4c2d-8e3f-4a5b6c7d8e9f")
    res = run_invoke("plan", "-i", str(fleet), "--endpoints", str(emu.endpoints_file))
    assert res.returncode == 1
    assert "permission denied" in res.stdout and "Reader" in res.stdout
    assert "contoso: ok" in res.stdout


def test_soft_deleted_secret_is_recovered_then_updated(fleet: Path, emu: Emulator) -> None:
    assert _apply(fleet, emu).returncode == 0
    kv = secret_client(emu, "kv-contoso-nb")
    kv.begin_delete_secret("TIProviders-GreyNoise-Args-AuthKey").result()
    (fleet.parent / "secrets" / "contoso-greynoise.txt").write_text("DEMO-GN-2\n")
    res = _apply(fleet, emu, "-t", "contoso")
    assert res.returncode == 0, res.stdout + res.stderr
    assert kv.get_secret("TIProviders-GreyNoise-Args-AuthKey").value == "DEMO-GN-2"
    versions = list(kv.list_properties_of_secret_versions("TIProviders-GreyNoise-Args-AuthKey"))
    assert len(versions) == 2  # the recovered one, then the update


def test_debug_logs_json_and_step_summary_never_show_secret_values(
    fleet: Path, emu: Emulator, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.md"
    env = {"MSTICPY_PROVISION_LOG": "debug", "GITHUB_STEP_SUMMARY": str(summary)}
    res = _apply(fleet, emu, "--json", env=env)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["ok"] is True and doc["totals"]["create"] == 25
    assert "DEBUG" in res.stderr  # debug logging was really on
    values = [p.read_text().strip() for p in (fleet.parent / "secrets").iterdir()]
    seen = res.stdout + res.stderr + summary.read_text()
    for v in values:
        assert v not in seen
    assert "| contoso | ok |" in summary.read_text()
