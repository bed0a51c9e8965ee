"""The policy preflight and the policy's name in errors, end to end: the example fleet in the
emulator, contoso with a Deny assignment of "Key Vault secrets should have an expiration date"
(Azure/azure-policy built-in-policies/policyDefinitions/Key Vault/Secrets_ExpirationSet.json,
98728c90-32c7-4049-8429-847dc0f4fe37) on its resource group; the tool run as an admin runs it.

- plan names every secret the vault would refuse and the assignment (display name and id), under
  the tenant's `policy` key of plan --json, and fails that tenant only;
- apply refuses up front and writes nothing to the tenant (no half-written vault);
- when the assignments cannot be read (403 on the listing: a note, not a failure), apply's
  write meets Key Vault's 403 and the error line names the assignment from the error body
  (Key Vault: 403 Forbidden, inner ForbiddenByPolicy, which an access-policy vault also answers
  for a missing permission: the assignment id in the message is what tells them apart), not a
  permission;
- Audit, DoNotEnforce and exemptions refuse nothing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import EXAMPLE, run_invoke
from support.clients import secret_client
from support.policy import (
    AUTHZ,
    EXEMPTIONS_API,
    SECRETS_EXPIRE,
    SECRETS_MAX_VALIDITY,
    arm,
    assign,
)

from provision.emulator import Emulator, seed_tenants_from_inventory
from provision.emulator.requestlog import is_write
from provision.emulator.seed import SeedPolicy
from provision.inventory.load import load_inventory

CONTOSO_RG = "/subscriptions/3f2b6c1e-8a4d-4c3b-9e1f-5a6b7c8d9e0f/resourceGroups/rg-contoso-soc"
ASSIGNMENT_ID = f"{CONTOSO_RG}{AUTHZ}/policyAssignments/cis-secrets-expire"
DISPLAY = "CIS 8.2: secrets must expire"


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLE.parent, tmp_path / "fleet")
    return tmp_path / "fleet" / "inventory.yaml"


def _emulator(tmp_path: Path, fleet: Path, effect: str = "Deny", mode: str = "Default") -> Emulator:
    seeds = seed_tenants_from_inventory(load_inventory(fleet))
    seeds[0].policies.append(
        SeedPolicy(
            "cis-secrets-expire",
            SECRETS_EXPIRE,
            effect=effect,
            display_name=DISPLAY,
            enforcement_mode=mode,
        )
    )
    e = Emulator(tmp_path / "emu")
    e.start()
    e.seed(seeds)
    return e


@pytest.fixture
def emu(tmp_path: Path, fleet: Path) -> Iterator[Emulator]:
    e = _emulator(tmp_path, fleet)
    try:
        yield e
    finally:
        e.stop()


def _run(command: str, fleet: Path, emu: Emulator, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_invoke(command, "-i", str(fleet), "--endpoints", str(emu.endpoints_file), *extra)


def _tenants(res: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    return {t["tenant"]: t for t in json.loads(res.stdout)["tenants"]}


def test_plan_names_the_secrets_the_policy_refuses_and_the_assignment(
    fleet: Path, emu: Emulator
) -> None:
    res = _run("plan", fleet, emu, "--json")
    assert res.returncode == 1, res.stdout + res.stderr
    tenants = _tenants(res)
    contoso, fabrikam = tenants["contoso"], tenants["fabrikam"]
    secrets = sorted(i["target"] for i in contoso["items"] if i["kind"] == "secret")
    assert secrets
    [finding] = contoso["policy"]
    assert finding["rule"] == "secret-expiration"
    assert finding["effect"] == "Deny" and finding["refuses"] is True
    assert finding["assignment"] == DISPLAY
    assert finding["assignment_id"] == ASSIGNMENT_ID
    assert finding["definition_id"].endswith(SECRETS_EXPIRE)
    assert sorted(finding["targets"]) == secrets
    assert DISPLAY in contoso["error"] and ASSIGNMENT_ID in contoso["error"]
    assert "permission" not in contoso["error"]
    # the other tenant has no assignment: nothing to report, nothing failed
    assert fabrikam["policy"] == [] and fabrikam["ok"] is True
    # plan --no-secret-values (Reader and Key Vault Reader) reads policy too
    metadata = _tenants(_run("plan", fleet, emu, "--json", "--no-secret-values"))["contoso"]
    assert metadata["policy"] == contoso["policy"] and ASSIGNMENT_ID in metadata["error"]


def test_apply_refused_by_policy_writes_nothing_to_the_tenant(fleet: Path, emu: Emulator) -> None:
    start = len(emu.requests())
    res = _run("apply", fleet, emu, "--json")
    assert res.returncode == 1, res.stdout + res.stderr
    tenants = _tenants(res)
    error = tenants["contoso"]["error"]
    assert "not applied" in error and ASSIGNMENT_ID in error and "permission" not in error
    assert tenants["fabrikam"]["ok"] is True
    writes = [e for e in emu.requests()[start:] if is_write(e)]
    # the lock was taken and given back; no secret and no rendered file was written
    assert not [e for e in writes if e["service"] == "keyvault" and "kv-contoso-nb" in e["path"]]
    assert not [e for e in writes if "contoso" in e["path"] and e["path"].endswith(".yaml")]
    # fabrikam, without the policy, was applied
    assert [e for e in writes if e["service"] == "keyvault" and "kv-fabrikam-nb" in e["path"]]


@pytest.mark.slow
def test_unreadable_policy_is_a_note_and_the_403_names_the_assignment(
    fleet: Path, emu: Emulator
) -> None:
    emu.deny(f"{CONTOSO_RG}{AUTHZ}/policyAssignments")
    plan = _run("plan", fleet, emu, "--json")
    contoso = _tenants(plan)["contoso"]
    assert contoso["ok"] is True and contoso["policy"] == []
    assert any("policy not checked" in n and "403" in n for n in contoso["notes"])
    res = _run("apply", fleet, emu)
    assert res.returncode == 1
    lines = [ln for ln in (res.stdout + res.stderr).splitlines() if "error" in ln.lower()]
    line = next(ln for ln in lines if "contoso" in ln or "refused" in ln)
    assert "refused by Azure Policy" in line and ASSIGNMENT_ID in line
    assert "permission denied" not in line


@pytest.mark.slow
@pytest.mark.parametrize(("effect", "mode"), [("Audit", "Default"), ("Deny", "DoNotEnforce")])
def test_audit_or_not_enforced_refuses_nothing(
    tmp_path: Path, fleet: Path, effect: str, mode: str
) -> None:
    emu = _emulator(tmp_path, fleet, effect, mode)
    try:
        plan = _tenants(_run("plan", fleet, emu, "--json"))["contoso"]
        assert plan["ok"] is True
        findings = plan["policy"]
        if mode == "DoNotEnforce":
            assert findings == []
        else:
            assert findings and not any(f["refuses"] for f in findings)
        applied = _run("apply", fleet, emu)
        assert applied.returncode == 0, applied.stdout + applied.stderr
    finally:
        emu.stop()


def _with_secret_expiry(fleet: Path, expires_in: str) -> None:
    """Give contoso `secret_expiry: {expires_in: ...}` (provision.inventory.expiry)."""
    text = fleet.read_text(encoding="utf-8")
    line = "    key_vault: kv-contoso-nb"
    at = text.index(line)
    end = text.index("\n", at)
    text = text[: end + 1] + f"    secret_expiry: {{expires_in: {expires_in}}}\n" + text[end + 1 :]
    fleet.write_text(text, encoding="utf-8")


@pytest.mark.slow
def test_with_expires_in_the_onboarding_passes_the_policy_and_every_secret_expires(
    fleet: Path, emu: Emulator
) -> None:
    _with_secret_expiry(fleet, "P90D")
    plan = _tenants(_run("plan", fleet, emu, "--json", "-t", "contoso"))["contoso"]
    assert plan["ok"] is True and plan["policy"] == [], plan
    res = _run("onboard", fleet, emu, "-t", "contoso")
    assert res.returncode == 0, res.stdout + res.stderr
    client = secret_client(emu, "kv-contoso-nb")
    props = [p for p in client.list_properties_of_secrets() if (p.tags or {}).get("tenant")]
    assert props and all(p.expires_on is not None for p in props)
    # The record's digest is one of them: refused, the next plan could not trust the record.
    assert any((p.tags or {}).get("role") == "record-digest" for p in props)
    assert "digest was not written" not in res.stdout + res.stderr


def test_an_expiry_beyond_the_maximum_validity_is_refused_in_plan(
    tmp_path: Path, fleet: Path
) -> None:
    _with_secret_expiry(fleet, "P365D")
    seeds = seed_tenants_from_inventory(load_inventory(fleet))
    seeds[0].policies.append(
        SeedPolicy(
            "max-180",
            SECRETS_MAX_VALIDITY,
            display_name="Secrets live 180 days at most",
            parameters={"maximumValidityInDays": 180},
        )
    )
    with Emulator(tmp_path / "emu2") as e:
        e.seed(seeds)
        plan = _tenants(_run("plan", fleet, e, "--json", "-t", "contoso"))["contoso"]
    [finding] = plan["policy"]
    assert finding["rule"] == "secret-max-validity" and finding["refuses"] is True
    assert "180 days" in finding["detail"] and "P180D" in finding["detail"]
    assert "Secrets live 180 days at most" in plan["error"]


@pytest.mark.slow
def test_plan_reads_an_initiative_and_honours_an_exemption(tmp_path: Path, fleet: Path) -> None:
    """A baseline initiative at the subscription, its member's effect an initiative parameter,
    then an exemption of that member on the vault (policyExemptions, 2022-07-01-preview)."""
    sub = CONTOSO_RG.rsplit("/resourceGroups/", 1)[0]
    initiative = f"{sub}{AUTHZ}/policySetDefinitions/soc-baseline"
    with Emulator(tmp_path / "emu") as e:
        e.seed(seed_tenants_from_inventory(load_inventory(fleet)))
        member = {
            "policyDefinitionId": f"{AUTHZ}/policyDefinitions/{SECRETS_EXPIRE}",
            "policyDefinitionReferenceId": "secretsExpire",
            "parameters": {"effect": {"value": "[parameters('secretsEffect')]"}},
        }
        params = {"secretsEffect": {"type": "String", "defaultValue": "Audit"}}
        body = {"properties": {"parameters": params, "policyDefinitions": [member]}}
        assert arm(e, "PUT", initiative, body).status_code == 201
        assign(e, sub, "baseline", initiative, display="SOC baseline", secretsEffect="Deny")
        plan = _tenants(_run("plan", fleet, e, "--json", "-t", "contoso"))["contoso"]
        [finding] = plan["policy"]
        assert finding["initiative_id"] == initiative and finding["refuses"] is True
        assert finding["assignment"] == "SOC baseline"
        vault = f"{CONTOSO_RG}/providers/Microsoft.KeyVault/vaults/kv-contoso-nb"
        exemption = {
            "properties": {
                "policyAssignmentId": f"{sub}{AUTHZ}/policyAssignments/baseline",
                "policyDefinitionReferenceIds": ["secretsExpire"],
                "exemptionCategory": "Waiver",
            }
        }
        put = arm(
            e, "PUT", f"{vault}{AUTHZ}/policyExemptions/notebooks", exemption, api=EXEMPTIONS_API
        )
        assert put.status_code == 201
        again = _tenants(_run("plan", fleet, e, "--json", "-t", "contoso"))["contoso"]
        assert again["policy"] == [] and again["ok"] is True
        applied = _run("apply", fleet, e, "-t", "contoso")
        assert applied.returncode == 0, applied.stdout + applied.stderr


def test_plan_reports_what_storage_compute_and_vault_policies_mean_for_the_tool(
    tmp_path: Path, fleet: Path
) -> None:
    """Azure/azure-policy built-ins: Storage/StorageAccountAllowSharedKeyAccess_Audit.json,
    Machine Learning/IdleShutdown_Audit.json, Key Vault/Recoverable_Audit.json. None of them
    refuses a write plan or apply makes: reported, the tenant not failed."""
    text = fleet.read_text(encoding="utf-8").replace(
        "    idle_shutdown: PT60M", "    # no idle shutdown"
    )
    fleet.write_text(text, encoding="utf-8")
    seeds = seed_tenants_from_inventory(load_inventory(fleet))
    seeds[1].policies += [
        SeedPolicy("no-shared-key", "8c6a50c6-9ffd-4ae7-986f-5fa6111f9a54"),
        SeedPolicy("idle-shutdown", "679ddf89-ab8f-48a5-9029-e76054077449"),
        SeedPolicy("purge-protection", "0b60c0b2-2dc2-4e1c-b5c9-abbed971de53", effect="Audit"),
    ]
    with Emulator(tmp_path / "emu") as e:
        e.seed(seeds)
        plan = _tenants(_run("plan", fleet, e, "--json", "-t", "fabrikam"))["fabrikam"]
    assert plan["ok"] is True, plan["error"]
    by_rule = {f["rule"]: f for f in plan["policy"]}
    assert set(by_rule) == {
        "storage-no-shared-key",
        "compute-idle-shutdown",
        "vault-purge-protection",
    }
    assert not any(f["refuses"] for f in plan["policy"])
    assert "Shared Key" in by_rule["storage-no-shared-key"]["detail"]
    assert "idle_shutdown" in by_rule["compute-idle-shutdown"]["detail"]
    assert by_rule["compute-idle-shutdown"]["targets"]  # the analysts' aliases
    assert by_rule["vault-purge-protection"]["targets"] == ["kv-fabrikam-nb"]
    assert any(n.startswith("policy: Deny: Storage accounts should prevent") for n in plan["notes"])


def test_rotate_refused_by_policy_names_the_assignment(fleet: Path, emu: Emulator) -> None:
    """rotate pushes a new version; under the Deny its Key Vault 403 names the assignment."""
    key = fleet.parent / "secrets" / "contoso-otx.txt"
    key.write_text("rotated-otx-value-0001\n", encoding="utf-8")
    res = run_invoke(
        "rotate",
        "-i",
        str(fleet),
        "--source",
        "file:secrets/contoso-otx.txt",
        "--endpoints",
        str(emu.endpoints_file),
    )
    out = res.stdout + res.stderr
    assert res.returncode == 1, out
    assert "refused by Azure Policy" in out and ASSIGNMENT_ID in out
    assert "rotated-otx-value-0001" not in out


@pytest.mark.slow
def test_create_compute_refused_by_policy_names_the_assignment(tmp_path: Path, fleet: Path) -> None:
    """Machine Learning/IdleShutdown_Audit.json with Deny: plan names the analysts whose
    instances would be refused, and create-compute's error line names the assignment
    (ARM 403 RequestDisallowedByPolicy, its PolicyViolation), not a permission."""
    text = fleet.read_text(encoding="utf-8")
    fleet.write_text(text.replace("    idle_shutdown: PT60M", "    # no idle shutdown", 1))
    seeds = seed_tenants_from_inventory(load_inventory(fleet))
    seeds[0].policies.append(
        SeedPolicy(
            "ci-idle", "679ddf89-ab8f-48a5-9029-e76054077449", display_name="CIs must idle-stop"
        )
    )
    with Emulator(tmp_path / "emu") as e:
        e.seed(seeds)
        # a new analyst, with an object id and no instance yet (as tests/compute do)
        carol = "      - {alias: carol.jones, compute: carol-hunting}\n"
        frank = "      - {alias: frank, object_id: 11111111-2222-4333-8444-555555555555}\n"
        fleet.write_text(fleet.read_text(encoding="utf-8").replace(carol, carol + frank))
        plan = _tenants(_run("plan", fleet, e, "--json", "-t", "contoso"))["contoso"]
        [finding] = plan["policy"]
        assert finding["rule"] == "compute-idle-shutdown" and "frank" in finding["targets"]
        applied = _run("apply", fleet, e, "-t", "contoso")
        assert applied.returncode == 0, applied.stdout + applied.stderr
        res = run_invoke(
            "create-compute",
            "-i",
            str(fleet),
            "-t",
            "contoso",
            "--user",
            "frank",
            "--endpoints",
            str(e.endpoints_file),
        )
    out = res.stdout + res.stderr
    assert res.returncode == 1, out
    assert "refused by Azure Policy" in out and "'CIs must idle-stop'" in out
    assert "RequestDisallowedByPolicy" in out and "permission denied" not in out
