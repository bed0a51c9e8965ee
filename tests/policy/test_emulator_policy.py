"""The emulator's Azure Policy, through the SDK's pipeline: assignments stored and listed as
ARM does, initiatives with the effect as a parameter, enforcementMode, exemptions, and Deny
enforced with Azure's status and error body where the tool writes.

Sources:
- azure-rest-api-specs specification/resources/resource-manager/Microsoft.Authorization/policy/
  stable/2023-04-01/policyAssignments.json (PolicyAssignments_Create 201, _Get, _Delete,
  _ListForResource with `$filter=atScope()`: assignments at and above the resource) and
  examples/listPolicyAssignmentsForResource.json (the body: id, type, name, properties.scope,
  policyDefinitionId, parameters, notScopes); policySetDefinitions.json; preview/2022-07-01-
  preview/policyExemptions.json.
- Azure/azure-policy built-in-policies/policyDefinitions/Key Vault/Secrets_ExpirationSet.json
  (98728c90-..., mode Microsoft.KeyVault.Data, expiresOn must exist), Secrets_ValidityPeriod.json
  (342e8053-..., maximumValidityInDays), Machine Learning/IdleShutdown_Audit.json (679ddf89-...).
- ARM's refusal: 403 RequestDisallowedByPolicy with additionalInfo[].type PolicyViolation
  (hashicorp/packer #12180 quotes one). Key Vault's: 403 Forbidden, inner ForbiddenByPolicy.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from azure.core.exceptions import HttpResponseError
from support.clients import secret_client
from support.policy import (
    AUTHZ,
    EXEMPTIONS_API,
    IDLE_SHUTDOWN,
    SECRETS_EXPIRE,
    SECRETS_MAX_VALIDITY,
    arm,
    assign,
)

from provision.emulator import Emulator, SeedTenant

SUB = "11111111-2222-4333-8444-555555555555"
TID = "99999999-8888-4777-8666-555555555555"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-soc"
VAULT = "kv-policy-test"
VAULT_ID = f"{RG}/providers/Microsoft.KeyVault/vaults/{VAULT}"
WS_ID = f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/mlw-soc"


@pytest.fixture
def emu(tmp_path):  # type: ignore[no-untyped-def]
    with Emulator(tmp_path / "emu") as e:
        e.seed(
            [
                SeedTenant(
                    tenant_id=TID,
                    subscription_id=SUB,
                    resource_group="rg-soc",
                    workspace="mlw-soc",
                    key_vault=VAULT,
                )
            ]
        )
        yield e


def _refused(emu: Emulator) -> HttpResponseError:
    with pytest.raises(HttpResponseError) as info:
        secret_client(emu, VAULT).set_secret("vt-key", "value-1")
    return info.value


def test_assignment_is_stored_listed_and_deleted_as_arm_does(emu: Emulator) -> None:
    put = assign(emu, RG, "secrets-expire", SECRETS_EXPIRE, display="Secrets must expire")
    assert put.status_code == 201
    body = put.json()
    assert body["id"] == f"{RG}{AUTHZ}/policyAssignments/secrets-expire"
    assert body["type"] == "Microsoft.Authorization/policyAssignments"
    assert body["properties"]["scope"] == RG
    assert body["properties"]["parameters"] == {"effect": {"value": "Deny"}}
    assign(emu, f"/subscriptions/{SUB}", "sub-wide", IDLE_SHUTDOWN, effect="Audit")
    # atScope() at the vault: the resource group's and the subscription's assignments
    listed = arm(emu, "GET", f"{VAULT_ID}{AUTHZ}/policyAssignments", **{"$filter": "atScope()"})
    assert {a["name"] for a in listed.json()["value"]} == {"secrets-expire", "sub-wide"}
    # at the subscription with atScope(): not the resource group's (below it)
    top = arm(
        emu, "GET", f"/subscriptions/{SUB}{AUTHZ}/policyAssignments", **{"$filter": "atScope()"}
    )
    assert [a["name"] for a in top.json()["value"]] == ["sub-wide"]
    got = arm(emu, "GET", f"{RG}{AUTHZ}/policyAssignments/secrets-expire")
    assert (
        got.status_code == 200 and got.json()["properties"]["displayName"] == "Secrets must expire"
    )
    assert arm(emu, "DELETE", f"{RG}{AUTHZ}/policyAssignments/secrets-expire").status_code == 200
    gone = arm(emu, "GET", f"{RG}{AUTHZ}/policyAssignments/secrets-expire")
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "PolicyAssignmentNotFound"


def test_assignment_of_an_unknown_definition_is_refused(emu: Emulator) -> None:
    resp = assign(emu, RG, "nope", "00000000-0000-0000-0000-000000000000")
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "PolicyDefinitionNotFound"


def test_builtin_definition_is_served_by_its_azure_id(emu: Emulator) -> None:
    resp = arm(emu, "GET", f"{AUTHZ}/policyDefinitions/{SECRETS_MAX_VALIDITY}")
    props = resp.json()["properties"]
    assert props["displayName"] == "Secrets should have the specified maximum validity period"
    assert props["mode"] == "Microsoft.KeyVault.Data"
    assert "maximumValidityInDays" in props["parameters"]
    unknown = arm(emu, "GET", f"{AUTHZ}/policyDefinitions/00000000-0000-0000-0000-000000000000")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "PolicyDefinitionNotFound"


def test_key_vault_refuses_a_secret_without_expiry_under_deny(emu: Emulator) -> None:
    assign(emu, RG, "secrets-expire", SECRETS_EXPIRE, display="Secrets must expire")
    err = _refused(emu)
    assert err.status_code == 403
    assert err.error is not None and err.error.code == "Forbidden"
    assert err.error.innererror == {"code": "ForbiddenByPolicy"}
    assert f"{RG}{AUTHZ}/policyAssignments/secrets-expire" in str(err.message)
    # with an expiration date the same write is allowed
    expires = datetime.now(timezone.utc) + timedelta(days=30)
    done = secret_client(emu, VAULT).set_secret("vt-key", "value-1", expires_on=expires)
    assert done.properties.expires_on is not None


def test_audit_do_not_enforce_and_exemption_refuse_nothing(emu: Emulator) -> None:
    assign(emu, RG, "audit-only", SECRETS_EXPIRE, effect="Audit")
    assign(emu, RG, "not-enforced", SECRETS_EXPIRE, mode="DoNotEnforce")
    secret_client(emu, VAULT).set_secret("a", "value-1")
    assign(emu, RG, "enforced", SECRETS_EXPIRE)
    _refused(emu)
    ex = arm(
        emu,
        "PUT",
        f"{VAULT_ID}{AUTHZ}/policyExemptions/tool-waiver",
        {
            "properties": {
                "policyAssignmentId": f"{RG}{AUTHZ}/policyAssignments/enforced",
                "exemptionCategory": "Waiver",
            }
        },
        api=EXEMPTIONS_API,
    )
    assert ex.status_code == 201
    secret_client(emu, VAULT).set_secret("b", "value-2")


def test_max_validity_refuses_an_expiry_beyond_the_bound(emu: Emulator) -> None:
    assign(emu, RG, "ninety-days", SECRETS_MAX_VALIDITY, maximumValidityInDays=90)
    client = secret_client(emu, VAULT)
    with pytest.raises(HttpResponseError) as info:
        client.set_secret("k", "v", expires_on=datetime.now(timezone.utc) + timedelta(days=200))
    assert info.value.status_code == 403
    client.set_secret("k", "v", expires_on=datetime.now(timezone.utc) + timedelta(days=60))


def test_initiative_sets_the_effect_through_its_parameter(emu: Emulator) -> None:
    initiative = f"/subscriptions/{SUB}{AUTHZ}/policySetDefinitions/soc-baseline"
    put = arm(
        emu,
        "PUT",
        initiative,
        {
            "properties": {
                "displayName": "SOC baseline",
                "parameters": {"secretEffect": {"type": "String", "defaultValue": "Audit"}},
                "policyDefinitions": [
                    {
                        "policyDefinitionId": f"{AUTHZ}/policyDefinitions/{SECRETS_EXPIRE}",
                        "policyDefinitionReferenceId": "secretsExpire",
                        "parameters": {"effect": {"value": "[parameters('secretEffect')]"}},
                    }
                ],
            }
        },
    )
    assert put.status_code == 201
    assert arm(emu, "GET", initiative).json()["properties"]["displayName"] == "SOC baseline"
    assign(emu, RG, "baseline-default", initiative, effect="Audit")  # the default: Audit
    secret_client(emu, VAULT).set_secret("a", "value-1")
    values = {"secretEffect": {"value": "Deny"}}
    body = {"properties": {"policyDefinitionId": initiative, "parameters": values}}
    arm(emu, "PUT", f"{RG}{AUTHZ}/policyAssignments/baseline-deny", body)
    assert _refused(emu).status_code == 403


def test_compute_instance_without_idle_shutdown_is_disallowed_by_policy(emu: Emulator) -> None:
    assign(emu, RG, "idle-shutdown", IDLE_SHUTDOWN, display="CIs need idle shutdown")
    body = {
        "location": "eastus",
        "properties": {
            "computeType": "ComputeInstance",
            "properties": {"vmSize": "STANDARD_DS3_V2"},
        },
    }
    refused = arm(emu, "PUT", f"{WS_ID}/computes/ci-alice", body, api="2024-04-01")
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "RequestDisallowedByPolicy"
    info = error["additionalInfo"][0]
    assert info["type"] == "PolicyViolation"
    assert info["info"]["policyAssignmentDisplayName"] == "CIs need idle shutdown"
    assert info["info"]["policyDefinitionId"].endswith(IDLE_SHUTDOWN)
    body["properties"]["properties"]["idleTimeBeforeShutdown"] = "PT30M"
    assert arm(emu, "PUT", f"{WS_ID}/computes/ci-alice", body, api="2024-04-01").status_code == 201


def test_policy_state_survives_a_restart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from provision.emulator.state import Backend

    with Emulator(tmp_path / "emu") as e:
        e.seed(
            [SeedTenant(tenant_id=TID, subscription_id=SUB, resource_group="rg-soc", workspace="w")]
        )
        assign(e, RG, "kept", SECRETS_EXPIRE, display="Kept across restarts")
    again = Backend.load(tmp_path / "emu")
    stored = again.policy.assignments[f"{RG}{AUTHZ}/policyAssignments/kept".lower()]
    assert stored["properties"]["displayName"] == "Kept across restarts"
