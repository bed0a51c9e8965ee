"""Analysts' read access to the tenant's vault, against the emulator: plan reports it, the
analyst's own token proves it (azure-keyvault-secrets), `apply --grant-access` grants it, on an
RBAC vault (kv-contoso-nb) and an access-policy vault (kv-fabrikam-nb).

Azure facts held here (see provision/access/rules.py and arm.py for the sources):
- msticpy lists the vault's secrets before it reads one (msticpy/auth/keyvault_client.py), so
  an analyst needs secrets getSecret and readMetadata (Key Vault Secrets User) or the access
  policy permissions Get and List.
- Key Vault answers a caller without rights 403 Forbidden, inner ForbiddenByRbac on RBAC vaults
  and AccessDenied on access-policy vaults (tests/emulator/test_emulator_access.py holds the
  emulator to Azure's wording).
- Role assignments listed at the vault with `$filter=atScope() and assignedTo('{id}')` include
  those at the resource group and subscription and those of the analyst's groups, transitively
  (azure-rest-api-specs, Microsoft.Authorization 2022-04-01 authorization-RoleAssignmentsCalls
  .json; Microsoft Learn role-assignments-list-rest: "This filter is transitive for groups").
- PIM-eligible assignments are listed by roleEligibilityScheduleInstances (Microsoft.Authorization
  2020-10-01 RoleEligibilityScheduleInstance.json) and grant nothing until activated.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest
from support import EXAMPLE, run_invoke
from support.clients import ml_client, secret_client

from provision.access.rules import SECRETS_USER_ROLE_ID, assignment_name
from provision.azure import TenantCredential
from provision.emulator import Emulator, seed_tenants_from_inventory
from provision.emulator.requestlog import is_write
from provision.emulator.seed import SeedGroup, SeedPrincipal, SeedTenant
from provision.inventory.load import load_inventory
from provision.render import render_tenants

ALICE = "0f4e6a2b-7c1d-4e8f-9a3b-5c6d7e8f9a01"  # contoso: RBAC vault kv-contoso-nb
BOB = "1a5f7b3c-8d2e-4f9a-8b4c-6d7e8f9a0b12"  # contoso
DAVE = "2b6a8c4d-9e3f-4a0b-9c5d-7e8f9a0b1c23"  # fabrikam: access-policy vault kv-fabrikam-nb
BYSTANDER = "3c7b9d5e-0f4a-4b1c-8d6e-8f9a0b1c2d34"  # someone else with access to both vaults
CONTOSO_TID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
FABRIKAM_TID = "4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c7d"
CONTOSO_SUB = "3f2b6c1e-8a4d-4c3b-9e1f-5a6b7c8d9e0f"
CONTOSO_VAULT_ID = (
    f"/subscriptions/{CONTOSO_SUB}/resourceGroups/rg-contoso-soc"
    "/providers/Microsoft.KeyVault/vaults/kv-contoso-nb"
)
FABRIKAM_SUB = "6c7d8e9f-0a1b-4c2d-8e3f-4a5b6c7d8e9f"
FABRIKAM_VAULT_ID = (
    f"/subscriptions/{FABRIKAM_SUB}/resourceGroups/rg-fabrikam-sentinel"
    "/providers/Microsoft.KeyVault/vaults/kv-fabrikam-nb"
)


def _with_object_ids(inv: Path, users: dict[str, str]) -> None:
    """Give exactly `users` object ids (the example's own analysts with ids lose theirs)."""
    text = re.sub(r"\{alias: (bob|erin), object_id: [0-9a-f-]+\}", r"\1", inv.read_text())
    for alias, oid in users.items():
        line = f"      - {alias}\n"
        assert line in text
        text = text.replace(line, f"      - {{alias: {alias}, object_id: {oid}}}\n")
    inv.write_text(text)


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    """The example fleet, alice and dave with Entra object ids."""
    shutil.copytree(EXAMPLE.parent, tmp_path / "fleet")
    inv = tmp_path / "fleet" / "inventory.yaml"
    _with_object_ids(inv, {"alice": ALICE, "dave": DAVE})
    return inv


def _seeds(inv: Path) -> list[SeedTenant]:
    seeds = seed_tenants_from_inventory(load_inventory(inv))
    fabrikam = seeds[1]
    fabrikam.access_policy_vaults = ["kv-fabrikam-nb"]
    for seed in seeds:
        seed.principals.append(
            SeedPrincipal(
                "bystander",
                object_id=BYSTANDER,
                roles=[("Key Vault Secrets Officer", "vault")],
                secret_permissions=["get", "list", "set"],
            )
        )
    return seeds


@pytest.fixture
def emu(tmp_path: Path, fleet: Path) -> Iterator[Emulator]:
    with Emulator(tmp_path / "emu") as e:
        e.seed(_seeds(fleet))
        yield e


def _run(command: str, fleet: Path, emu: Emulator, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_invoke(command, "-i", str(fleet), "--endpoints", str(emu.endpoints_file), *extra)


def _access(doc: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Access items of a plan/apply document: target -> (action, detail)."""
    return {
        i["target"]: (i["action"], i["detail"])
        for t in doc["tenants"]
        for i in t["items"]
        if i["kind"] == "access"
    }


def _plan(fleet: Path, emu: Emulator, *extra: str) -> tuple[int, dict[str, Any]]:
    res = _run("plan", fleet, emu, "--json", *extra)
    assert "Traceback" not in res.stderr, res.stderr
    return res.returncode, json.loads(res.stdout)


def _analyst_vault(emu: Emulator, tenant_id: str, object_id: str, vault: str) -> Any:
    """The analyst's own SecretClient. seed_tenants_from_inventory registers each analyst with
    client id = object id. TenantCredential pins the tenant: the SDK caches Key Vault's challenge
    per host, and the emulator's vaults of both tenants share one host (in Azure each vault is
    its own host)."""
    credential = TenantCredential(emu.tenant_credential(tenant_id, object_id), tenant_id)
    return secret_client(emu, vault, credential=credential)


def _pushes(fleet: Path, tenant: str) -> dict[str, str]:
    """Secret name -> value, of what msticpy will fetch for the tenant."""
    r = next(r for r in render_tenants(load_inventory(fleet), []) if r.tenant.name == tenant)
    return {
        p.name: (fleet.parent / p.source.removeprefix("file:")).read_text().strip()
        for p in r.pushes
    }


def _arm(emu: Emulator, tenant_id: str, sub: str, path: str) -> Any:
    """GET an ARM path as the tenant's admin application."""
    ml = ml_client(emu, sub, credential=emu.tenant_credential(tenant_id))
    return ml._send_request(HttpRequest("GET", path))


def _others_access(emu: Emulator) -> tuple[str, str]:
    """Everyone's access but the analysts': the access-policy entries of kv-fabrikam-nb and the
    role assignments that apply to kv-contoso-nb (the admin's and the bystander's among them)."""
    vault = _arm(emu, FABRIKAM_TID, FABRIKAM_SUB, f"{FABRIKAM_VAULT_ID}?api-version=2023-07-01")
    entries = [p for p in vault.json()["properties"]["accessPolicies"] if p["objectId"] != DAVE]
    listed = _arm(
        emu,
        CONTOSO_TID,
        CONTOSO_SUB,
        f"{CONTOSO_VAULT_ID}/providers/Microsoft.Authorization/roleAssignments"
        "?api-version=2022-04-01",
    ).json()["value"]
    others = [a for a in listed if a["properties"]["principalId"] != ALICE]
    # the bystander can read both vaults to begin with
    assert any(p["objectId"] == BYSTANDER for p in entries)
    assert any(a["properties"]["principalId"] == BYSTANDER for a in others)
    return json.dumps(entries, sort_keys=True), json.dumps(others, sort_keys=True)


def test_plan_reports_analysts_without_access_and_their_tokens_are_refused(
    fleet: Path, emu: Emulator
) -> None:
    applied = _run("apply", fleet, emu)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    code, doc = _plan(fleet, emu)
    assert code == 0  # a missing access is reported, not a failure
    assert _access(doc) == {
        "alice on kv-contoso-nb": (
            "report",
            "missing (needs Key Vault Secrets User on kv-contoso-nb)",
        ),
        "dave on kv-fabrikam-nb": (
            "report",
            "missing (needs an access policy with secrets Get and List on kv-fabrikam-nb)",
        ),
    }
    contoso_notes = doc["tenants"][0]["notes"]
    assert any("not checked for bob, carol.jones: no object_id" in n for n in contoso_notes)
    # RBAC vaults: ARM lists group grants too (assignedTo), so no caveat; access-policy vaults
    # keep it (their group entries need Microsoft Graph)
    assert not any("group" in n for n in contoso_notes)
    assert any("unknown: via a group?" in n for n in doc["tenants"][1]["notes"])
    # apply without --grant-access never changes access
    ops = {r.get("op") for r in emu.requests() if is_write(r)}
    assert not ops & {"CreateRoleAssignment", "UpdateAccessPolicy", "UpdateVault"}
    # what the analysts would meet in their notebook: 403 on list and on get
    name = next(iter(_pushes(fleet, "contoso")))
    for tid, oid, vault, inner in (
        (CONTOSO_TID, ALICE, "kv-contoso-nb", "ForbiddenByRbac"),
        (FABRIKAM_TID, DAVE, "kv-fabrikam-nb", "AccessDenied"),
    ):
        client = _analyst_vault(emu, tid, oid, vault)
        with pytest.raises(HttpResponseError) as listed:
            list(client.list_properties_of_secrets())
        assert listed.value.status_code == 403
        with pytest.raises(HttpResponseError) as got:
            client.get_secret(name)
        assert got.value.status_code == 403
        assert got.value.response.json()["error"]["innererror"]["code"] == inner


def test_grant_access_lets_analysts_read_their_secrets_and_a_rerun_writes_nothing(
    fleet: Path, emu: Emulator
) -> None:
    before = _others_access(emu)
    start = len(emu.requests())
    code, preview = _plan(fleet, emu, "--grant-access", "--detailed-exitcode")
    assert code == 2  # grants are changes
    assert [r for r in emu.requests()[start:] if is_write(r)] == []  # a preview only reads
    assert _access(preview)["alice on kv-contoso-nb"] == (
        "create",
        "grant Key Vault Secrets User on kv-contoso-nb (missing)",
    )
    assert _access(preview)["dave on kv-fabrikam-nb"] == (
        "create",
        "grant access policy with secrets Get and List on kv-fabrikam-nb (missing)",
    )

    applied = _run("apply", fleet, emu, "--grant-access")
    assert applied.returncode == 0, applied.stdout + applied.stderr

    # the analysts' own tokens now list and read every secret msticpy will fetch
    for tenant, tid, oid, vault in (
        ("contoso", CONTOSO_TID, ALICE, "kv-contoso-nb"),
        ("fabrikam", FABRIKAM_TID, DAVE, "kv-fabrikam-nb"),
    ):
        client = _analyst_vault(emu, tid, oid, vault)
        expected = _pushes(fleet, tenant)
        assert set(expected) <= {s.name for s in client.list_properties_of_secrets()}
        for name, value in expected.items():
            assert client.get_secret(name).value == value
    # the role assignment has the deterministic name, Key Vault Secrets User, the vault's scope
    name = assignment_name(CONTOSO_VAULT_ID, ALICE)
    got = _arm(
        emu,
        CONTOSO_TID,
        CONTOSO_SUB,
        f"{CONTOSO_VAULT_ID}/providers/Microsoft.Authorization/roleAssignments/{name}"
        "?api-version=2022-04-01",
    )
    assert got.status_code == 200
    props = got.json()["properties"]
    assert props["roleDefinitionId"].endswith(f"/roleDefinitions/{SECRETS_USER_ROLE_ID}")
    assert props["scope"].lower() == CONTOSO_VAULT_ID.lower()
    assert props["principalId"] == ALICE
    # a grant never removes or changes another principal's access
    assert _others_access(emu) == before

    code, after = _plan(fleet, emu, "--grant-access", "--detailed-exitcode", "--require-access")
    assert code == 0
    assert _access(after) == {
        "alice on kv-contoso-nb": ("noop", "ok: Key Vault Secrets User on the vault kv-contoso-nb"),
        "dave on kv-fabrikam-nb": ("noop", "ok: access policy (secrets get, list)"),
    }
    start = len(emu.requests())
    again = _run("apply", fleet, emu, "--grant-access")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 created, 0 updated, 0 deleted" in again.stdout
    assert [r for r in emu.requests()[start:] if is_write(r)] == []


def test_require_access_fails_each_tenant_with_one_line(fleet: Path, emu: Emulator) -> None:
    res = _run("plan", fleet, emu, "--require-access")
    assert res.returncode == 1
    assert "Traceback" not in res.stdout + res.stderr
    errors = [line.strip() for line in res.stdout.splitlines() if "error:" in line]
    assert errors == [
        "error: --require-access: analyst vault access not confirmed: alice on kv-contoso-nb "
        "(missing); grant it with apply --grant-access",
        "error: --require-access: analyst vault access not confirmed: dave on kv-fabrikam-nb "
        "(missing); grant it with apply --grant-access",
    ]
    # granting in the same run satisfies it
    granted = _run("apply", fleet, emu, "--grant-access", "--require-access")
    assert granted.returncode == 0, granted.stdout + granted.stderr


def test_inherited_roles_count_and_partial_ones_do_not(tmp_path: Path, fleet: Path) -> None:
    """Secrets Officer on the resource group grants alice (`secrets/*` covers both actions);
    Key Vault Reader on the subscription gives bob readMetadata but not getSecret: missing."""
    _with_object_ids(fleet, {"bob": BOB})
    seeds = _seeds(fleet)
    seeds[0].principals += [
        SeedPrincipal(
            "alice-2", object_id=ALICE, roles=[("Key Vault Secrets Officer", "resource-group")]
        ),
        SeedPrincipal("bob-2", object_id=BOB, roles=[("Key Vault Reader", "subscription")]),
    ]
    with Emulator(tmp_path / "emu2") as emu:
        emu.seed(seeds)
        code, doc = _plan(fleet, emu, "--tenant", "contoso")
    assert code == 0
    assert _access(doc) == {
        "alice on kv-contoso-nb": (
            "noop",
            "ok: Key Vault Secrets Officer on resource group rg-contoso-soc",
        ),
        "bob on kv-contoso-nb": (
            "report",
            "missing (needs Key Vault Secrets User on kv-contoso-nb)",
        ),
    }


def test_unreadable_role_assignments_are_unknown_and_a_refused_grant_is_one_line(
    fleet: Path, emu: Emulator
) -> None:
    emu.deny(f"{CONTOSO_VAULT_ID}/providers/Microsoft.Authorization/roleAssignments")
    code, doc = _plan(fleet, emu, "--tenant", "contoso")
    assert code == 0
    action, detail = _access(doc)["alice on kv-contoso-nb"]
    assert action == "report"
    assert detail == (
        "unknown (cannot list role assignments (HTTP 403 AuthorizationFailed): grant Reader on "
        "the vault)"
    )
    required = _run("plan", fleet, emu, "--tenant", "contoso", "--require-access")
    assert required.returncode == 1
    assert [line.strip() for line in required.stdout.splitlines() if "error:" in line] == [
        "error: --require-access: analyst vault access not confirmed: alice on kv-contoso-nb "
        "(unknown); the plan's access rows say why"
    ]
    emu.allow_all()
    # the listing is allowed, creating the assignment is not (the apply identity lacks
    # Microsoft.Authorization/roleAssignments/write)
    emu.deny(
        f"{CONTOSO_VAULT_ID}/providers/Microsoft.Authorization/roleAssignments/"
        f"{assignment_name(CONTOSO_VAULT_ID, ALICE)}"
    )
    res = _run("apply", fleet, emu, "--tenant", "contoso", "--grant-access")
    assert res.returncode == 1
    errors = [line for line in res.stdout.splitlines() if "error:" in line]
    assert len(errors) == 1, res.stdout
    assert "role assignment for alice on kv-contoso-nb (AuthorizationFailed)" in errors[0]
    assert "Role Based Access Control Administrator" in errors[0]
    assert "Key Vault Data Access Administrator" in errors[0]  # the narrower role
    assert "Traceback" not in res.stdout + res.stderr


ANALYSTS = "5e9d1f7a-2b6c-4d3e-8f4a-0b1c2d3e4f56"  # contoso's analyst group
SOC = "6f0e2a8b-3c7d-4e4f-9a5b-1c2d3e4f5a67"  # a group whose members include ANALYSTS


def test_a_group_grant_is_ok_eligible_is_reported_and_neither_is_granted(
    tmp_path: Path, fleet: Path
) -> None:
    """alice reads through a group of a group (Key Vault Secrets User given to SOC, of which
    ANALYSTS is a member): ARM's assignedTo filter is transitive, so she is ok and
    --grant-access writes nothing for her. bob is only PIM-eligible for Key Vault Secrets User:
    eligible, never granted standing access, and --require-access does not fail over it."""
    _with_object_ids(fleet, {"bob": BOB})
    seeds = _seeds(fleet)
    seeds[0].groups += [
        SeedGroup(SOC, roles=[("Key Vault Secrets User", "vault")]),
        SeedGroup(ANALYSTS, member_of=[SOC]),
    ]
    for p in seeds[0].principals:
        if p.object_id == ALICE:
            p.member_of.append(ANALYSTS)
        if p.object_id == BOB:
            p.eligible.append(("Key Vault Secrets User", "resource-group"))
    with Emulator(tmp_path / "emu-groups") as emu:
        emu.seed(seeds)
        applied = _run("apply", fleet, emu, "--tenant", "contoso")
        assert applied.returncode == 0, applied.stdout + applied.stderr
        code, doc = _plan(fleet, emu, "--tenant", "contoso", "--grant-access", "--require-access")
        assert code == 0, doc
        assert _access(doc) == {
            "alice on kv-contoso-nb": (
                "noop",
                f"ok: Key Vault Secrets User on the vault kv-contoso-nb through group {SOC}",
            ),
            "bob on kv-contoso-nb": (
                "report",
                "eligible (PIM-eligible for Key Vault Secrets User on resource group "
                "rg-contoso-soc: the analyst activates it; no standing access is granted over "
                "it)",
            ),
        }
        start = len(emu.requests())
        granted = _run("apply", fleet, emu, "--tenant", "contoso", "--grant-access")
        assert granted.returncode == 0, granted.stdout + granted.stderr
        assert [r for r in emu.requests()[start:] if is_write(r)] == []
        # the group grant works in Key Vault too: alice's own token reads the secrets
        client = _analyst_vault(emu, CONTOSO_TID, ALICE, "kv-contoso-nb")
        for name, value in _pushes(fleet, "contoso").items():
            assert client.get_secret(name).value == value
        # bob's eligibility gives him nothing until he activates it
        with pytest.raises(HttpResponseError) as refused:
            _analyst_vault(emu, CONTOSO_TID, BOB, "kv-contoso-nb").get_secret(name)
        assert refused.value.status_code == 403
        # ARM's own filters, as the REST docs describe them: principalId lists alice's own
        # assignments (none), assignedTo adds her groups' (transitively)
        listed = {
            flt: _arm(
                emu,
                CONTOSO_TID,
                CONTOSO_SUB,
                f"{CONTOSO_VAULT_ID}/providers/Microsoft.Authorization/roleAssignments"
                f"?api-version=2022-04-01&$filter={flt}",
            ).json()["value"]
            for flt in (f"principalId eq '{ALICE}'", f"atScope() and assignedTo('{ALICE}')")
        }
        assert listed[f"principalId eq '{ALICE}'"] == []
        assert [
            a["properties"]["principalId"] for a in listed[f"atScope() and assignedTo('{ALICE}')"]
        ] == [SOC]
        eligible = _arm(
            emu,
            CONTOSO_TID,
            CONTOSO_SUB,
            f"{CONTOSO_VAULT_ID}/providers/Microsoft.Authorization/roleEligibilityScheduleInstances"
            f"?api-version=2020-10-01&$filter=assignedTo('{BOB}')",
        ).json()["value"]
        assert [e["properties"]["principalId"] for e in eligible] == [BOB]
        assert eligible[0]["properties"]["roleDefinitionId"].endswith(SECRETS_USER_ROLE_ID)


def test_grants_send_the_users_principal_type_and_a_mismatch_is_one_line(
    tmp_path: Path, fleet: Path
) -> None:
    """The role assignment's principalType must be the object's own: ARM answers a group's id
    sent as User with 400 UnmatchedPrincipalType ("The PrincipalId '...' has type 'Group',
    which is different from specified PrincipalType 'User'."). A users entry says its type."""
    text = fleet.read_text()
    fleet.write_text(text.replace(f"object_id: {ALICE}}}", f"object_id: {ANALYSTS}}}"))
    seeds = _seeds(fleet)
    seeds[0].groups.append(SeedGroup(ANALYSTS))
    with Emulator(tmp_path / "emu-types") as emu:
        emu.seed(seeds)
        refused = _run("apply", fleet, emu, "--tenant", "contoso", "--grant-access")
        assert refused.returncode == 1
        errors = [line for line in refused.stdout.splitlines() if "error:" in line]
        assert len(errors) == 1, refused.stdout
        assert "role assignment for alice on kv-contoso-nb (UnmatchedPrincipalType)" in errors[0]
        assert "set principal_type (User, Group or ServicePrincipal)" in errors[0]
        assert "Traceback" not in refused.stdout + refused.stderr

        fleet.write_text(
            fleet.read_text().replace(
                f"object_id: {ANALYSTS}}}", f"object_id: {ANALYSTS}, principal_type: Group}}"
            )
        )
        granted = _run("apply", fleet, emu, "--tenant", "contoso", "--grant-access")
        assert granted.returncode == 0, granted.stdout + granted.stderr
        got = _arm(
            emu,
            CONTOSO_TID,
            CONTOSO_SUB,
            f"{CONTOSO_VAULT_ID}/providers/Microsoft.Authorization/roleAssignments/"
            f"{assignment_name(CONTOSO_VAULT_ID, ANALYSTS)}?api-version=2022-04-01",
        ).json()["properties"]
        assert (got["principalId"], got["principalType"]) == (ANALYSTS, "Group")
