"""Who may read a vault: RBAC vaults and access-policy vaults enforced on the data plane, the
vault's ARM resource (GET, PATCH, accessPolicies/add), role assignments at a scope and above,
and the built-in Key Vault role definitions -- through azure-keyvault-secrets,
azure-mgmt-keyvault and (for Microsoft.Authorization, which has no SDK here) ``send_request``
through the ML management client's pipeline."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest
from azure.identity import ClientSecretCredential
from azure.keyvault.secrets import SecretClient
from azure.mgmt.keyvault import KeyVaultManagementClient
from azure.mgmt.keyvault.models import (
    AccessPolicyEntry,
    Permissions,
    VaultAccessPolicyParameters,
    VaultAccessPolicyProperties,
)
from azure.mgmt.machinelearningservices import MachineLearningServicesMgmtClient
from emulator_helpers import unique

from provision.emulator import Emulator, SeedTenant
from provision.emulator.seed import SeedPrincipal, user_object_id, workspace_vault_name

TID = "6a1f0e2d-3c4b-4a59-8e7d-1f2a3b4c5d6e"
ACL = SeedTenant(
    tenant_id=TID,
    subscription_id="9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a",
    resource_group="rg-acl",
    workspace="ws-acl",
    key_vault="kv-acl-policy",
    users=[("alice", "ci-acl-alice")],
    access_policy_vaults=["kv-acl-policy"],
    principals=[
        SeedPrincipal("analyst-app", object_id=user_object_id(TID, "alice"), principal_type="User"),
        SeedPrincipal(
            "reader-app",
            roles=[("Key Vault Secrets User", "workspace-vault")],
            secret_permissions=["get", "list"],
        ),
    ],
)
RBAC_VAULT = workspace_vault_name(ACL)
POLICY_VAULT = "kv-acl-policy"
RG_ID = f"/subscriptions/{ACL.subscription_id}/resourceGroups/{ACL.resource_group}"
SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"


@pytest.fixture(scope="module")
def acl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with Emulator(tmp_path_factory.mktemp("acl")) as emulator:
        emulator.seed([ACL])
        for vault in (RBAC_VAULT, POLICY_VAULT):
            kv(emulator, vault, admin(emulator)).set_secret("TIProviders-VirusTotal", "k")
        yield emulator


def cred(emu: Emulator, client_id: str, secret: str = "any") -> ClientSecretCredential:
    return ClientSecretCredential(
        TID,
        client_id,
        secret,
        authority=emu.endpoints["authority"],
        disable_instance_discovery=True,
        connection_verify=str(emu.ca_cert),
    )


def admin(emu: Emulator) -> ClientSecretCredential:
    app = emu.endpoints["tenants"][TID]
    return cred(emu, app["client_id"], app["client_secret"])


def kv(emu: Emulator, vault: str, credential: Any) -> SecretClient:
    return SecretClient(
        emu.endpoints["keyvault"].format(vault=vault),
        credential,
        connection_verify=str(emu.ca_cert),
        retry_backoff_factor=0.01,
    )


def arm(emu: Emulator) -> MachineLearningServicesMgmtClient:
    return MachineLearningServicesMgmtClient(
        admin(emu),
        ACL.subscription_id,
        base_url=emu.endpoints["arm"],
        connection_verify=str(emu.ca_cert),
    )


def kv_mgmt(emu: Emulator) -> KeyVaultManagementClient:
    return KeyVaultManagementClient(
        admin(emu),
        ACL.subscription_id,
        base_url=emu.endpoints["arm"],
        credential_scopes=["https://management.azure.com/.default"],
        connection_verify=str(emu.ca_cert),
    )


def test_a_principal_without_rights_gets_forbidden_by_rbac_on_get_and_list(acl: Emulator) -> None:
    # Key Vault's RBAC answer: 403, code Forbidden, inner error ForbiddenByRbac, message naming
    # caller, action and resource (terraform-provider-azurerm and azure-cli #15528 reports).
    client = kv(acl, RBAC_VAULT, cred(acl, "analyst-app"))
    with pytest.raises(HttpResponseError) as got:
        client.get_secret("TIProviders-VirusTotal")
    assert got.value.status_code == 403
    assert got.value.error is not None and got.value.error.code == "Forbidden"
    inner = got.value.response.json()["error"]["innererror"]["code"]
    assert inner == "ForbiddenByRbac"
    message = str(got.value.error.message)
    assert "Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'" in message
    assert f"oid={user_object_id(TID, 'alice')}" in message
    with pytest.raises(HttpResponseError) as listed:
        list(client.list_properties_of_secrets())
    assert "secrets/readMetadata/action" in str(listed.value.message)


def test_access_policy_vault_answers_forbidden_with_the_policy_message(acl: Emulator) -> None:
    # Access-policy vaults: 403 Forbidden, inner AccessDenied, "does not have secrets get
    # permission on key vault '<vault>;location=<region>'" (turbot/steampipe-plugin-azure#127).
    client = kv(acl, POLICY_VAULT, cred(acl, "analyst-app"))
    with pytest.raises(HttpResponseError) as got:
        client.get_secret("TIProviders-VirusTotal")
    assert got.value.status_code == 403
    assert got.value.response.json()["error"]["innererror"]["code"] == "AccessDenied"
    assert (
        f"does not have secrets get permission on key vault '{POLICY_VAULT};location=eastus'"
        in str(got.value.message)
    )


def test_secrets_user_reads_but_cannot_write(acl: Emulator) -> None:
    for vault in (RBAC_VAULT, POLICY_VAULT):
        client = kv(acl, vault, cred(acl, "reader-app"))
        assert client.get_secret("TIProviders-VirusTotal").value == "k"
        assert "TIProviders-VirusTotal" in {p.name for p in client.list_properties_of_secrets()}
        with pytest.raises(HttpResponseError) as got:
            client.set_secret(unique("nope"), "v")
        assert got.value.status_code == 403


def test_role_assignment_put_grants_and_list_shows_inherited_scopes(acl: Emulator) -> None:
    analyst = user_object_id(TID, "alice")
    ml = arm(acl)
    vault_scope = f"{RG_ID}/providers/Microsoft.KeyVault/vaults/{RBAC_VAULT}"
    api = "api-version=2022-04-01"
    name = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{vault_scope}/{analyst}/{SECRETS_USER}"))
    body = {
        "properties": {
            "roleDefinitionId": f"/subscriptions/{ACL.subscription_id}/providers/"
            f"Microsoft.Authorization/roleDefinitions/{SECRETS_USER}",
            "principalId": analyst,
            "principalType": "User",
        }
    }
    url = f"{acl.endpoints['arm']}{vault_scope}/providers/Microsoft.Authorization/roleAssignments"
    put = ml._client.send_request(HttpRequest("PUT", f"{url}/{name}?{api}", json=body))
    assert put.status_code == 201
    assert put.json()["properties"]["scope"] == vault_scope
    # A rerun under the same name is a no-op; another name for the same grant is a conflict
    # (REST: 409 RoleAssignmentExists).
    again = ml._client.send_request(HttpRequest("PUT", f"{url}/{name}?{api}", json=body))
    assert again.status_code == 201
    other = ml._client.send_request(HttpRequest("PUT", f"{url}/{uuid.uuid4()}?{api}", json=body))
    assert other.status_code == 409 and other.json()["error"]["code"] == "RoleAssignmentExists"
    assert kv(acl, RBAC_VAULT, cred(acl, "analyst-app")).get_secret("TIProviders-VirusTotal")

    # Reader on the resource group is inherited by the vault: listing at the vault's scope
    # with principalId eq returns it too (REST: "at, above or below the scope").
    rg_url = f"{acl.endpoints['arm']}{RG_ID}/providers/Microsoft.Authorization/roleAssignments"
    reader = {
        "properties": {
            **body["properties"],
            "roleDefinitionId": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
        }
    }
    rg_name = str(uuid.uuid4())
    assert (
        ml._client.send_request(
            HttpRequest("PUT", f"{rg_url}/{rg_name}?{api}", json=reader)
        ).status_code
        == 201
    )
    flt = f"$filter=principalId eq '{analyst}'"
    listed = ml._client.send_request(HttpRequest("GET", f"{url}?{api}&{flt}")).json()["value"]
    scopes = {a["properties"]["scope"] for a in listed}
    assert scopes == {vault_scope, RG_ID}
    at_rg = ml._client.send_request(HttpRequest("GET", f"{rg_url}?{api}&$filter=atScope()")).json()[
        "value"
    ]
    assert vault_scope not in {a["properties"]["scope"] for a in at_rg}
    gone = ml._client.send_request(HttpRequest("DELETE", f"{url}/{name}?{api}"))
    assert gone.status_code == 200
    missing = ml._client.send_request(HttpRequest("GET", f"{url}/{name}?{api}"))
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "RoleAssignmentNotFound"


def test_built_in_key_vault_roles_carry_their_data_actions(acl: Emulator) -> None:
    # Azure built-in roles (Microsoft Learn, "Azure built-in roles for Security"): Key Vault
    # Secrets User 4633458b-... has getSecret/action and readMetadata/action.
    ml = arm(acl)
    url = (
        f"{acl.endpoints['arm']}/subscriptions/{ACL.subscription_id}/providers/"
        f"Microsoft.Authorization/roleDefinitions/{SECRETS_USER}?api-version=2022-04-01"
    )
    role = ml._client.send_request(HttpRequest("GET", url)).json()
    assert role["properties"]["roleName"] == "Key Vault Secrets User"
    assert role["properties"]["type"] == "BuiltInRole"
    assert set(role["properties"]["permissions"][0]["dataActions"]) == {
        "Microsoft.KeyVault/vaults/secrets/getSecret/action",
        "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
    }
    by_name = ml._client.send_request(
        HttpRequest(
            "GET",
            url.split(SECRETS_USER)[0].rstrip("/")
            + "?api-version=2022-04-01&$filter=roleName eq 'Key Vault Secrets Officer'",
        )
    ).json()["value"]
    assert [r["name"] for r in by_name] == ["b86a8fe4-44ce-4948-aee5-eccb2c155cd7"]


def test_vault_resource_and_access_policy_add_keep_other_entries(acl: Emulator) -> None:
    mgmt = kv_mgmt(acl)
    rbac = mgmt.vaults.get(ACL.resource_group, RBAC_VAULT)
    assert rbac.properties.enable_rbac_authorization is True
    assert rbac.properties.tenant_id == TID
    policy = mgmt.vaults.get(ACL.resource_group, POLICY_VAULT)
    assert policy.properties.enable_rbac_authorization is False
    before = {p.object_id for p in policy.properties.access_policies}
    analyst = user_object_id(TID, "alice")
    # REST: PUT vaults/{name}/accessPolicies/add merges the given entries into the vault's.
    mgmt.vaults.update_access_policy(
        ACL.resource_group,
        POLICY_VAULT,
        "add",
        VaultAccessPolicyParameters(
            properties=VaultAccessPolicyProperties(
                access_policies=[
                    AccessPolicyEntry(
                        tenant_id=TID,
                        object_id=analyst,
                        permissions=Permissions(secrets=["get", "list"]),
                    )
                ]
            )
        ),
    )
    after = mgmt.vaults.get(ACL.resource_group, POLICY_VAULT).properties.access_policies
    assert {p.object_id for p in after} == before | {analyst}
    client = kv(acl, POLICY_VAULT, cred(acl, "analyst-app"))
    assert client.get_secret("TIProviders-VirusTotal").value == "k"
    assert [p.name for p in client.list_properties_of_secrets()]


def test_a_disabled_secret_answers_403_secret_disabled(acl: Emulator) -> None:
    # Key Vault: GET of a disabled secret -> 403 Forbidden, inner error SecretDisabled,
    # "Operation get is not allowed on a disabled secret." (seen in Azure/azure-sdk-for-js#24756
    # and ansible-collections/azure#1989).
    client = kv(acl, RBAC_VAULT, admin(acl))
    name = unique("off")
    client.set_secret(name, "v", enabled=False)
    with pytest.raises(HttpResponseError) as got:
        client.get_secret(name)
    assert got.value.status_code == 403
    error = got.value.response.json()["error"]
    assert error["code"] == "Forbidden"
    assert error["innererror"] == {"code": "SecretDisabled"}
    assert error["message"] == "Operation get is not allowed on a disabled secret."
    client.update_secret_properties(name, enabled=True)
    assert client.get_secret(name).value == "v"


def test_vault_patch_switches_the_permission_model_and_replaces_policies(acl: Emulator) -> None:
    # REST (Microsoft.KeyVault vaults.json, VaultPatchProperties): accessPolicies is "an array
    # of 0 to 16 identities", so a PATCH that carries it replaces the vault's list; use
    # accessPolicies/add to keep other entries.
    from azure.mgmt.keyvault.models import VaultPatchParameters, VaultPatchProperties

    mgmt = kv_mgmt(acl)
    admin_oid = acl.endpoints["tenants"][TID]["object_id"]
    only_admin = AccessPolicyEntry(
        tenant_id=TID, object_id=admin_oid, permissions=Permissions(secrets=["all"])
    )
    patched = mgmt.vaults.update(
        ACL.resource_group,
        RBAC_VAULT,
        VaultPatchParameters(
            properties=VaultPatchProperties(
                enable_rbac_authorization=False, access_policies=[only_admin]
            )
        ),
    )
    try:
        assert patched.properties.enable_rbac_authorization is False
        assert [p.object_id for p in patched.properties.access_policies] == [admin_oid]
        with pytest.raises(HttpResponseError) as got:
            kv(acl, RBAC_VAULT, cred(acl, "reader-app")).get_secret("TIProviders-VirusTotal")
        assert got.value.response.json()["error"]["innererror"]["code"] == "AccessDenied"
        assert kv(acl, RBAC_VAULT, admin(acl)).get_secret("TIProviders-VirusTotal").value == "k"
    finally:
        mgmt.vaults.update(
            ACL.resource_group,
            RBAC_VAULT,
            VaultPatchParameters(properties=VaultPatchProperties(enable_rbac_authorization=True)),
        )
    assert kv(acl, RBAC_VAULT, cred(acl, "reader-app")).get_secret("TIProviders-VirusTotal")
