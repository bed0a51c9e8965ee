"""Orphans and --prune against the emulator, checked through the official SDK clients.

Key Vault facts relied on (azure-keyvault-secrets, SecretClient): list_properties_of_secrets
returns each secret's tags without its value (Get Secrets: "The full secret identifier and
attributes are provided in the response. No values are returned for the secrets."), a deleted
secret in a soft-delete vault stays recoverable (begin_recover_deleted_secret) until purged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lifecycle_helpers import (
    CONTOSO_VAULT,
    ERIN,
    FABRIKAM_VAULT,
    changing,
    edit,
    folder_names,
    plan_items,
    read,
    share_of,
    tool,
    vault,
)

from provision.emulator import Emulator
from provision.vault import MANAGED_BY

OLD_VT = "TIProviders-VirusTotal-Args-AuthKey"
NEW_OTX = "TIProviders-OTX-Args-AuthKey"
VT_VALUE = "DEMO-NOT-A-REAL-KEY-fabrikam-virustotal-0000"


def _tags(tenant: str) -> dict[str, str]:
    return {"managed-by": MANAGED_BY, "tenant": tenant}


def test_removed_user_files_are_orphans_and_prune_deletes_exactly_them(
    fleet: Path, emu: Emulator
) -> None:
    assert tool("apply", fleet, emu).returncode == 0
    share = share_of(emu, fleet, "fabrikam")
    ours = folder_names(share, "Users/erin")
    assert "msticpyconfig.yaml" in ours
    # The analyst's own notebook in the same folder is not the tool's.
    share.get_file_client("Users/erin/hunt.ipynb").upload_file(b'{"cells": []}')
    edit(fleet, ERIN, "")

    items = plan_items(fleet, emu, "-t", "fabrikam")
    orphans = {i["target"] for i in items if "orphan" in i["detail"]}
    assert orphans == {f"Users/erin/{n}" for n in ours}
    assert {i["action"] for i in items if i["target"] in orphans} == {"report"}
    assert changing(items) == []  # without --prune, orphans are not changes
    summary = fleet.parent / "summary.md"
    env = {"GITHUB_STEP_SUMMARY": str(summary)}
    plain = tool("plan", fleet, emu, "-t", "fabrikam", "--detailed-exitcode", env=env)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    reported = summary.read_text(encoding="utf-8")
    assert "reported, not changed" in reported
    assert "| fabrikam | file | Users/erin/msticpyconfig.yaml | orphan" in reported
    summary.unlink()
    pruning = tool("plan", fleet, emu, "-t", "fabrikam", "--prune", "--detailed-exitcode", env=env)
    assert pruning.returncode == 2, pruning.stdout + pruning.stderr
    assert "Users/erin/msticpyconfig.yaml" in pruning.stdout
    assert "| fabrikam | file | Users/erin/msticpyconfig.yaml | delete | orphan" in (
        summary.read_text(encoding="utf-8")
    )

    res = tool("apply", fleet, emu, "--prune")
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"{len(ours)} deleted" in res.stdout
    assert folder_names(share, "Users/erin") == {"hunt.ipynb"}
    assert read(share, "Users/erin/hunt.ipynb") == b'{"cells": []}'
    assert "msticpyconfig.yaml" in folder_names(share, "Users/dave")
    assert changing(plan_items(fleet, emu, "--prune")) == []
    assert not [i for i in plan_items(fleet, emu) if "orphan" in i["detail"]]


def test_secret_moved_between_providers_is_pruned_softly_and_recoverable(
    fleet: Path, emu: Emulator
) -> None:
    assert tool("apply", fleet, emu).returncode == 0
    kv = vault(emu, FABRIKAM_VAULT)
    edit(
        fleet,
        '      VirusTotal:\n        args: {auth_key: "file:secrets/fabrikam-virustotal.txt"}\n',
        '      OTX:\n        args: {auth_key: "file:secrets/fabrikam-virustotal.txt"}\n',
    )
    items = plan_items(fleet, emu, "-t", "fabrikam")
    old = f"{FABRIKAM_VAULT}/{OLD_VT}"
    assert [(i["target"], i["action"]) for i in items if "orphan" in i["detail"]] == [
        (old, "report")
    ]
    res = tool("apply", fleet, emu, "-t", "fabrikam", "--prune")
    assert res.returncode == 0, res.stdout + res.stderr
    assert kv.get_secret(NEW_OTX).value == VT_VALUE
    assert [s.name for s in kv.list_deleted_secrets()] == [OLD_VT]  # soft-deleted, not purged
    assert OLD_VT not in {s.name for s in kv.list_properties_of_secrets()}
    assert changing(plan_items(fleet, emu, "--prune")) == []
    kv.begin_recover_deleted_secret(OLD_VT).result()
    assert kv.get_secret(OLD_VT).value == VT_VALUE


def test_prune_never_touches_other_tenants_or_untagged_secrets(fleet: Path, emu: Emulator) -> None:
    assert tool("apply", fleet, emu).returncode == 0
    kv = vault(emu, FABRIKAM_VAULT)
    kv.set_secret("contoso-owned", "x", tags=_tags("contoso"))
    kv.set_secret("another-teams-key", "y")
    kv.set_secret("fabrikam-leftover", "z", tags=_tags("fabrikam"))
    res = tool("apply", fleet, emu, "--prune")
    assert res.returncode == 0, res.stdout + res.stderr
    names = {s.name for s in kv.list_properties_of_secrets()}
    assert {"contoso-owned", "another-teams-key"} <= names
    assert "fabrikam-leftover" not in names
    assert [s.name for s in kv.list_deleted_secrets()] == ["fabrikam-leftover"]
    assert list(vault(emu, CONTOSO_VAULT).list_deleted_secrets()) == []


def test_prune_with_a_tenant_filter_prunes_only_that_tenant(fleet: Path, emu: Emulator) -> None:
    assert tool("apply", fleet, emu).returncode == 0
    vault(emu, FABRIKAM_VAULT).set_secret("fab-old", "z", tags=_tags("fabrikam"))
    vault(emu, CONTOSO_VAULT).set_secret("con-old", "z", tags=_tags("contoso"))
    res = tool("apply", fleet, emu, "--prune", "-t", "contoso")
    assert res.returncode == 0, res.stdout + res.stderr
    assert [s.name for s in vault(emu, CONTOSO_VAULT).list_deleted_secrets()] == ["con-old"]
    assert vault(emu, FABRIKAM_VAULT).get_secret("fab-old").value == "z"


def test_more_orphans_than_prune_max_refuses_and_names_the_vault(
    fleet: Path, emu: Emulator
) -> None:
    assert tool("apply", fleet, emu).returncode == 0
    kv = vault(emu, FABRIKAM_VAULT)
    for n in range(3):
        kv.set_secret(f"stale-{n}", "v", tags=_tags("fabrikam"))
    refused = tool("apply", fleet, emu, "-t", "fabrikam", "--prune", "--prune-max", "2")
    assert refused.returncode == 1
    lines = [ln for ln in refused.stdout.splitlines() if "--prune-max 2" in ln]
    assert len(lines) == 1 and FABRIKAM_VAULT in lines[0], refused.stdout
    assert "Traceback" not in refused.stdout + refused.stderr
    assert list(kv.list_deleted_secrets()) == []
    ok = tool("apply", fleet, emu, "-t", "fabrikam", "--prune", "--prune-max", "3")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert sorted(s.name for s in kv.list_deleted_secrets()) == ["stale-0", "stale-1", "stale-2"]


def test_deleting_an_orphan_already_gone_is_not_an_error(fleet: Path, emu: Emulator) -> None:
    from provision.azure import Clients, load_endpoints_file
    from provision.inventory.load import load_inventory
    from provision.tenant.orphans import delete_secret

    t = next(t for t in load_inventory(fleet).tenants if t.name == "fabrikam")
    clients = Clients(0, load_endpoints_file(str(emu.endpoints_file)))
    try:
        delete_secret(clients, t, FABRIKAM_VAULT, "never-existed")
    finally:
        clients.close()
    assert list(vault(emu, FABRIKAM_VAULT).list_deleted_secrets()) == []


def test_a_negative_prune_max_is_one_line_of_error(fleet: Path, emu: Emulator) -> None:
    res = tool("plan", fleet, emu, "--prune", "--prune-max=-1")
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == ["error: --prune-max -1: use 0 or more"]


FABRIKAM_VT = """\
      VirusTotal:
        args: {auth_key: "file:secrets/fabrikam-virustotal.txt"}
"""
# The provider moved into the msticpy: block as a reference with no source: the tool no longer
# pushes its key, yet the rendered config still reads it (what `import --replace` of a config
# the tool rendered produces).
VT_IN_BLOCK = """\
    msticpy:
      TIProviders:
        VirusTotal:
          Args: {AuthKey: {KeyVault: null}}
          Primary: false
          Provider: VirusTotal
    users:
      - dave
"""


def test_prune_never_deletes_a_secret_a_rendered_config_references(
    fleet: Path, emu: Emulator, tmp_path: Path, msticpy_env: Any
) -> None:
    assert tool("apply", fleet, emu).returncode == 0
    edit(fleet, FABRIKAM_VT, "")
    edit(fleet, "    users:\n      - dave\n", VT_IN_BLOCK)
    items = plan_items(fleet, emu, "-t", "fabrikam", "--prune")
    target = f"{FABRIKAM_VAULT}/{OLD_VT}"
    assert not [i for i in items if i["target"] == target and i["action"] == "delete"]
    res = tool("plan", fleet, emu, "-t", "fabrikam", "--prune")
    assert f"{OLD_VT}: tagged for tenant fabrikam and not pushed" in res.stdout, res.stdout
    assert tool("apply", fleet, emu, "-t", "fabrikam", "--prune").returncode == 0
    assert vault(emu, FABRIKAM_VAULT).get_secret(OLD_VT).value == VT_VALUE
    # msticpy itself reads exactly that secret from the rendered config
    rendered = tmp_path / "msticpyconfig.yaml"
    rendered.write_bytes(read(share_of(emu, fleet, "fabrikam"), "Users/dave/msticpyconfig.yaml"))
    msticpy_env(rendered)
    from msticpy.auth.secret_settings import SecretsClient

    resolve = SecretsClient(use_keyring=False)._get_kv_vault_and_name
    assert resolve("TIProviders.VirusTotal.Args.AuthKey") == (FABRIKAM_VAULT, OLD_VT)


def test_pruning_on_an_access_policy_vault_without_delete_names_the_missing_permission(
    tmp_path: Path, fleet: Path
) -> None:
    """Key Vault checks each secret operation against the caller's access policy (Microsoft
    Learn, "Azure Key Vault security: access policies"; azure-rest-api-specs Microsoft.KeyVault
    SecretPermissions: get, list, set, delete, recover, ...): deleting needs `delete`, which the
    apply identity's documented list once lacked (Get, List, Set, Recover). The vault answers
    403 Forbidden (inner AccessDenied); the delete path says, in one line, what to add."""
    from azure.core.rest import HttpRequest
    from support.clients import ml_client

    from provision.emulator import seed_tenants_from_inventory
    from provision.emulator.identity.models import admin_object_id
    from provision.inventory.load import load_inventory

    seeds = seed_tenants_from_inventory(load_inventory(fleet))
    fabrikam = next(s for s in seeds if s.workspace == "mlw-fabrikam")
    fabrikam.access_policy_vaults = [FABRIKAM_VAULT]
    with Emulator(tmp_path / "emu-policy") as emu:
        emu.seed(seeds)
        vault_id = (
            f"/subscriptions/{fabrikam.subscription_id}/resourceGroups/{fabrikam.resource_group}"
            f"/providers/Microsoft.KeyVault/vaults/{FABRIKAM_VAULT}"
        )
        entry = {
            "tenantId": fabrikam.tenant_id,
            "objectId": admin_object_id(fabrikam.tenant_id),
            "permissions": {"secrets": ["Get", "List", "Set", "Recover"]},
        }
        ml = ml_client(
            emu, fabrikam.subscription_id, credential=emu.tenant_credential(fabrikam.tenant_id)
        )
        replaced = ml._send_request(
            HttpRequest(
                "PUT",
                f"{vault_id}/accessPolicies/replace",
                params={"api-version": "2023-07-01"},
                json={"properties": {"accessPolicies": [entry]}},
            )
        )
        assert replaced.status_code == 200, replaced.text()
        applied = tool("apply", fleet, emu, "-t", "fabrikam")
        assert applied.returncode == 0, applied.stdout + applied.stderr  # get, list, set suffice
        edit(
            fleet,
            '      VirusTotal:\n        args: {auth_key: "file:secrets/fabrikam-virustotal.txt"}\n',
            '      OTX:\n        args: {auth_key: "file:secrets/fabrikam-virustotal.txt"}\n',
        )
        res = tool("apply", fleet, emu, "-t", "fabrikam", "--prune")
        out = res.stdout + res.stderr
        assert res.returncode == 1, out
        assert "Traceback" not in out
        errors = [line.strip() for line in out.splitlines() if "error:" in line]
        assert len(errors) == 1, out
        assert f"deleting secret {FABRIKAM_VAULT}/{OLD_VT}" in errors[0]
        assert "Get, List, Set, Delete and Recover" in errors[0]
        assert OLD_VT in {s.name for s in vault(emu, FABRIKAM_VAULT).list_properties_of_secrets()}


def test_a_vault_without_soft_delete_is_pruned_only_when_permanent_delete_is_allowed(
    tmp_path: Path, fleet: Path
) -> None:
    """A vault with `enableSoftDelete: false` (Microsoft.KeyVault 2023-07-01 vaults) deletes a
    secret for good: nothing is left in deletedsecrets to recover. Pruning there is refused in
    one line unless --allow-permanent-delete says it is intended."""
    from azure.core.exceptions import ResourceNotFoundError

    from provision.emulator import seed_tenants_from_inventory
    from provision.inventory.load import load_inventory

    seeds = seed_tenants_from_inventory(load_inventory(fleet))
    next(s for s in seeds if s.workspace == "mlw-fabrikam").no_soft_delete_vaults = [FABRIKAM_VAULT]
    with Emulator(tmp_path / "emu-hard") as emu:
        emu.seed(seeds)
        assert tool("apply", fleet, emu, "-t", "fabrikam").returncode == 0
        edit(
            fleet,
            '      VirusTotal:\n        args: {auth_key: "file:secrets/fabrikam-virustotal.txt"}\n',
            '      OTX:\n        args: {auth_key: "file:secrets/fabrikam-virustotal.txt"}\n',
        )
        kv = vault(emu, FABRIKAM_VAULT)
        refused = tool("apply", fleet, emu, "-t", "fabrikam", "--prune")
        out = refused.stdout + refused.stderr
        assert refused.returncode == 1, out
        errors = [line.strip() for line in out.splitlines() if "error:" in line]
        assert errors == [
            f"error: vault {FABRIKAM_VAULT} has soft delete off (enableSoftDelete: false): "
            "pruning would delete 1 secret(s) permanently; pass --allow-permanent-delete if that "
            "is intended"
        ], out
        assert OLD_VT in {s.name for s in kv.list_properties_of_secrets()}
        # plan previews what apply would do with the flag
        preview = plan_items(fleet, emu, "-t", "fabrikam", "--prune", "--allow-permanent-delete")
        assert [(i["target"], i["action"]) for i in preview if "orphan" in i["detail"]] == [
            (f"{FABRIKAM_VAULT}/{OLD_VT}", "delete")
        ]

        allowed = tool("apply", fleet, emu, "-t", "fabrikam", "--prune", "--allow-permanent-delete")
        assert allowed.returncode == 0, allowed.stdout + allowed.stderr
        assert OLD_VT not in {s.name for s in kv.list_properties_of_secrets()}
        assert list(kv.list_deleted_secrets()) == []  # gone for good, nothing to recover
        with pytest.raises(ResourceNotFoundError):
            kv.get_deleted_secret(OLD_VT)
        # the soft-delete vault of the other tenant still keeps what it deletes
        other = vault(emu, CONTOSO_VAULT)
        other.set_secret("scratch", "x")
        other.begin_delete_secret("scratch").result()
        assert other.get_deleted_secret("scratch").recovery_id
