"""How an assignment reaches a resource (provision.policy.assignments), on ARM's JSON shapes
(azure-rest-api-specs Microsoft.Authorization/policy/stable/2023-04-01 policyAssignments.json,
policySetDefinitions.json; preview/2022-07-01-preview policyExemptions.json), and which 403s
name a policy (provision.policy.errors)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from support.clients import secret_client
from support.policy import IDLE_SHUTDOWN, SECRETS_EXPIRE, SECRETS_MAX_VALIDITY, arm, assign

from provision.emulator import Emulator, SeedTenant
from provision.policy.assignments import in_effect, members
from provision.policy.builtins import BUILTIN_PREFIX, Rule, builtin
from provision.policy.errors import policy_refusal
from provision.workspace import explain_azure_error

RG = "/subscriptions/s1/resourceGroups/rg"
VAULT = f"{RG}/providers/Microsoft.KeyVault/vaults/kv1"
OTHER = "/subscriptions/s1/resourceGroups/other/providers/Microsoft.KeyVault/vaults/kv2"
NEIGHBOUR = f"{RG}/providers/Microsoft.KeyVault/vaults/kv3"
NOW = datetime(2027, 1, 1, tzinfo=timezone.utc)
INITIATIVE = "/subscriptions/s1/providers/Microsoft.Authorization/policySetDefinitions/base"


def _assignment(name: str, target: str, scope: str = RG, **props: Any) -> dict[str, Any]:
    return {
        "id": f"{scope}/providers/Microsoft.Authorization/policyAssignments/{name}",
        "name": name,
        "properties": {"policyDefinitionId": target, "scope": scope, **props},
    }


def _initiative(default: str) -> dict[str, Any]:
    ref = "[parameters('secretEffect')]"
    return {
        "id": INITIATIVE,
        "properties": {
            "parameters": {"secretEffect": {"type": "String", "defaultValue": default}},
            "policyDefinitions": [
                {
                    "policyDefinitionId": BUILTIN_PREFIX + SECRETS_EXPIRE,
                    "policyDefinitionReferenceId": "expire",
                    "parameters": {"effect": {"value": ref}},
                },
                {
                    "policyDefinitionId": BUILTIN_PREFIX + SECRETS_MAX_VALIDITY,
                    "policyDefinitionReferenceId": "bounded",
                    "parameters": {
                        "effect": {"value": "Deny"},
                        "maximumValidityInDays": {"value": 90},
                    },
                },
                {"policyDefinitionId": BUILTIN_PREFIX + "custom-one", "parameters": {}},
            ],
        },
    }


def test_builtins_are_known_by_their_azure_ids_in_any_case() -> None:
    found = builtin(BUILTIN_PREFIX.upper() + SECRETS_EXPIRE.upper())
    assert found is not None and found.rule == Rule.SECRET_EXPIRATION
    assert builtin("/subscriptions/s1" + BUILTIN_PREFIX + SECRETS_EXPIRE) is None  # a custom one


def test_a_direct_assignment_takes_its_effect_or_the_builtin_default() -> None:
    [deny] = members(
        _assignment("a", BUILTIN_PREFIX + SECRETS_EXPIRE, parameters={"effect": {"value": "Deny"}}),
        {},
    )
    assert deny.denies and deny.builtin.rule == Rule.SECRET_EXPIRATION
    [default] = members(_assignment("b", BUILTIN_PREFIX + SECRETS_EXPIRE), {})
    assert default.effect == "Audit"


def test_an_initiative_member_takes_its_effect_from_the_initiative_parameter() -> None:
    given = {"secretEffect": {"value": "Deny"}}
    a = _assignment("base", INITIATIVE, parameters=given)
    got = {m.reference_id: m for m in members(a, {INITIATIVE.lower(): _initiative("Audit")})}
    assert set(got) == {"expire", "bounded"}  # the custom member is not evaluated
    assert got["expire"].effect == "Deny" and got["expire"].initiative_id == INITIATIVE
    assert got["bounded"].days == 90
    # without the assignment's value, the initiative's default
    defaulted = members(_assignment("base", INITIATIVE), {INITIATIVE.lower(): _initiative("Audit")})
    assert {m.reference_id: m.effect for m in defaulted}["expire"] == "Audit"
    # an initiative that could not be read contributes nothing
    assert members(a, {}) == []


def test_scope_not_scopes_enforcement_mode_and_disabled() -> None:
    target = BUILTIN_PREFIX + SECRETS_EXPIRE
    deny = {"effect": {"value": "Deny"}}
    assignments = [
        _assignment("here", target, parameters=deny),
        _assignment("elsewhere", target, scope="/subscriptions/s1/resourceGroups/other"),
        _assignment("excluded", target, parameters=deny, notScopes=[VAULT]),
        _assignment("not-enforced", target, parameters=deny, enforcementMode="DoNotEnforce"),
        _assignment("off", target, parameters={"effect": {"value": "Disabled"}}),
        _assignment(
            "from-group",
            target,
            scope="/providers/Microsoft.Management/managementGroups/root",
            parameters=deny,
        ),
    ]
    names = {m.assignment_id.rsplit("/", 1)[-1] for m in in_effect(assignments, {}, [], VAULT, NOW)}
    assert names == {"here", "from-group"}
    assert {
        m.assignment_id.rsplit("/", 1)[-1] for m in in_effect(assignments, {}, [], OTHER, NOW)
    } == {"elsewhere", "from-group"}


@pytest.mark.parametrize(
    ("refs", "expires", "lifted"),
    [
        ([], None, {"expire", "bounded"}),
        (["expire"], None, {"expire"}),
        ([], NOW - timedelta(days=1), set()),  # expired: lifts nothing
        ([], NOW + timedelta(days=1), {"expire", "bounded"}),
    ],
)
def test_exemptions_lift_an_assignment_or_some_members_until_they_expire(
    refs: list[str], expires: datetime | None, lifted: set[str]
) -> None:
    a = _assignment("base", INITIATIVE, parameters={"secretEffect": {"value": "Deny"}})
    props: dict[str, Any] = {"policyAssignmentId": a["id"], "policyDefinitionReferenceIds": refs}
    if expires is not None:
        props["expiresOn"] = expires.isoformat()
    exemption = {
        "id": f"{VAULT}/providers/Microsoft.Authorization/policyExemptions/x",
        "properties": props,
    }
    initiatives = {INITIATIVE.lower(): _initiative("Audit")}
    left = {m.reference_id for m in in_effect([a], initiatives, [exemption], VAULT, NOW)}
    assert left == {"expire", "bounded"} - lifted
    # an exemption on one vault lifts nothing on its neighbour
    assert {m.reference_id for m in in_effect([a], initiatives, [exemption], NEIGHBOUR, NOW)} == {
        "expire",
        "bounded",
    }


SUB = "11111111-2222-4333-8444-555555555555"
SOC = f"/subscriptions/{SUB}/resourceGroups/rg-soc"


@pytest.fixture
def emu(tmp_path):  # type: ignore[no-untyped-def]
    seed = SeedTenant(
        tenant_id="99999999-8888-4777-8666-555555555555",
        subscription_id=SUB,
        resource_group="rg-soc",
        workspace="mlw-soc",
        key_vault="kv-policy-errors",
    )
    with Emulator(tmp_path / "emu") as e:
        e.seed([seed])
        yield e


def _tenant() -> Any:
    from provision.inventory.model import Tenant

    return Tenant.model_construct(name="soc", key_vault="kv-policy-errors", resource_group="rg-soc")


def test_errors_name_the_assignment_and_a_missing_permission_stays_one(emu: Emulator) -> None:
    assign(emu, SOC, "must-expire", SECRETS_EXPIRE, display="Secrets must expire")
    assign(emu, SOC, "idle", IDLE_SHUTDOWN, display="Idle shutdown required")
    # Key Vault's data plane: 403 Forbidden / ForbiddenByPolicy, the assignment id in the message
    with pytest.raises(HttpResponseError) as kv:
        secret_client(emu, "kv-policy-errors").set_secret("k", "v")
    line = explain_azure_error(kv.value, _tenant(), "secret kv-policy-errors/k", "grant a role")
    assert "refused by Azure Policy" in line and "must-expire" in line
    assert "permission denied" not in line
    # ARM: 403 RequestDisallowedByPolicy with its PolicyViolation
    body = {"location": "eastus", "properties": {"computeType": "ComputeInstance"}}
    ws = f"{SOC}/providers/Microsoft.MachineLearningServices/workspaces/mlw-soc"
    resp = arm(emu, "PUT", f"{ws}/computes/ci-x", body, api="2024-04-01")
    with pytest.raises(HttpResponseError) as put:
        resp.raise_for_status()
    line = policy_refusal(put.value, "compute ci-x")
    assert line is not None and "'Idle shutdown required'" in line and f"{SOC}/providers" in line
    # ARM's 403 for a missing role is not a policy's
    emu.deny(ws)
    denied = arm(emu, "GET", ws)
    with pytest.raises(HttpResponseError) as authz:
        denied.raise_for_status()
    assert policy_refusal(authz.value, "workspace") is None
    assert "permission denied" in explain_azure_error(authz.value, _tenant(), "workspace", "x")


def _key_vault_error(body: dict[str, Any]) -> HttpResponseError:
    """azure-core's error for a Key Vault answer, built as its pipeline builds it (a requests
    response in the SDK's own transport response)."""
    import json

    import requests
    from azure.core.pipeline.transport import RequestsTransportResponse
    from azure.core.rest import HttpRequest

    raw = requests.Response()
    raw.status_code = 403
    raw._content = json.dumps(body).encode()
    raw.headers["Content-Type"] = "application/json; charset=utf-8"
    request = HttpRequest("PUT", "https://kv-x.vault.azure.net/secrets/k")
    return HttpResponseError(response=RequestsTransportResponse(request, raw))


def test_for_policy_without_an_assignment_the_line_names_both_causes() -> None:
    """Key Vault's inner ForbiddenByPolicy also answers an access-policy vault's missing
    permission (a recorded answer for a purge without the permission: "does not have secrets
    purge permission on key vault ...", inner code ForbiddenByPolicy)."""
    err = _key_vault_error(
        {
            "error": {
                "code": "Forbidden",
                "message": "The user, group or application 'appid=a;oid=b' does not have secrets "
                "set permission on key vault 'kv-x;location=eastus'.",
                "innererror": {"code": "ForbiddenByPolicy"},
            }
        }
    )
    assert policy_refusal(err, "secret kv-x/k") is None
    line = explain_azure_error(err, _tenant(), "secret kv-x/k", "grant Key Vault Secrets Officer")
    assert line.startswith("permission denied on secret kv-x/k (Forbidden (Key Vault's")
    assert "Azure Policy" in line and "grant Key Vault Secrets Officer" in line
    # an inner AccessDenied is a permission, plainly
    plain = _key_vault_error(
        {"error": {"code": "Forbidden", "message": "no", "innererror": {"code": "AccessDenied"}}}
    )
    assert "Azure Policy" not in explain_azure_error(plain, _tenant(), "secret kv-x/k", "grant")
