"""The rules of what lets an analyst read a vault's secrets, without Azure.

Sources: Microsoft Learn "Azure role definitions" (DataActions minus NotDataActions, `*`
wildcards, case-insensitive operation names); azure-rest-api-specs Microsoft.KeyVault vaults
(AccessPolicyEntry with objectId, applicationId for a compound identity, SecretPermissions
including `all`); Microsoft.Authorization 2022-04-01 (assignments above a scope apply to it).
"""

from __future__ import annotations

from provision.access.rules import (
    GET_SECRET,
    NEEDED_DATA_ACTIONS,
    READ_METADATA,
    action_matches,
    assignment_name,
    granted_data_actions,
    policy_allows_read,
    policy_permissions,
    scope_applies,
    scope_label,
)

VAULT = (
    "/subscriptions/3f2b6c1e-8a4d-4c3b-9e1f-5a6b7c8d9e0f/resourceGroups/rg-soc"
    "/providers/Microsoft.KeyVault/vaults/kv-soc"
)
OID = "0f4e6a2b-7c1d-4e8f-9a3b-5c6d7e8f9a01"
TID = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def test_wildcards_cover_the_secret_actions_case_insensitively() -> None:
    assert action_matches("Microsoft.KeyVault/vaults/secrets/*", GET_SECRET)
    assert action_matches("microsoft.keyvault/vaults/*", READ_METADATA)
    assert action_matches("*", GET_SECRET)
    assert action_matches(GET_SECRET.upper(), GET_SECRET)
    assert not action_matches("Microsoft.KeyVault/vaults/keys/*", GET_SECRET)
    assert not action_matches("Microsoft.KeyVault/vaults/*/read", GET_SECRET)
    # a dot in an action is a dot, not "any character"
    assert not action_matches("Microsoft.KeyVault/vaults/secrets/getSecret.action", GET_SECRET)


def test_not_data_actions_take_away_what_data_actions_give() -> None:
    officer_without_get = [
        {
            "dataActions": ["Microsoft.KeyVault/vaults/secrets/*"],
            "notDataActions": ["Microsoft.KeyVault/vaults/secrets/getSecret/action"],
        }
    ]
    assert granted_data_actions(officer_without_get, NEEDED_DATA_ACTIONS) == {READ_METADATA}
    reader = [{"actions": ["*/read"], "dataActions": [READ_METADATA]}]
    assert granted_data_actions(reader, NEEDED_DATA_ACTIONS) == {READ_METADATA}
    control_plane_only = [{"actions": ["*"], "notActions": [], "dataActions": []}]
    assert granted_data_actions(control_plane_only, NEEDED_DATA_ACTIONS) == set()
    # a second permissions block of the same role adds what the first lacks
    split = [{"dataActions": [GET_SECRET]}, {"dataActions": [READ_METADATA]}]
    assert granted_data_actions(split, NEEDED_DATA_ACTIONS) == set(NEEDED_DATA_ACTIONS)


def test_assignments_apply_at_and_above_the_vault_only() -> None:
    sub = "/subscriptions/3f2b6c1e-8a4d-4c3b-9e1f-5a6b7c8d9e0f"
    assert scope_applies(VAULT, VAULT)
    assert scope_applies(VAULT.upper(), VAULT)
    assert scope_applies(f"{sub}/resourceGroups/RG-SOC", VAULT)
    assert scope_applies(sub, VAULT)
    assert scope_applies("/providers/Microsoft.Management/managementGroups/mssp", VAULT)
    assert scope_applies("/", VAULT)
    assert not scope_applies(f"{sub}/resourceGroups/rg-so", VAULT)  # a prefix, not a parent
    assert not scope_applies(f"{VAULT}/secrets/one", VAULT)  # below the vault
    assert not scope_applies(f"{sub}/resourceGroups/rg-other", VAULT)


def test_access_policies_need_get_and_list_for_the_object_itself() -> None:
    def perms(*entries: dict[str, object]) -> set[str]:
        return policy_permissions(list(entries), OID, TID)

    entry = {"tenantId": TID, "objectId": OID.upper(), "permissions": {"secrets": ["Get", "List"]}}
    assert policy_allows_read(perms(entry))
    assert policy_allows_read(perms({**entry, "permissions": {"secrets": ["all"]}}))
    assert not policy_allows_read(perms({**entry, "permissions": {"secrets": ["get"]}}))
    assert not policy_allows_read(perms({**entry, "permissions": {"keys": ["get", "list"]}}))
    # a compound identity (an application acting for the user) does not let the user read alone
    assert not policy_allows_read(perms({**entry, "applicationId": "some-app"}))
    assert not policy_allows_read(perms({**entry, "objectId": "someone-else"}))
    # permissions of two entries for the same object add up
    get_only = {**entry, "permissions": {"secrets": ["get"]}}
    list_only = {**entry, "permissions": {"secrets": ["list"]}}
    assert policy_allows_read(perms(get_only, list_only))


def test_assignment_names_are_stable_guids_per_vault_principal_and_role() -> None:
    name = assignment_name(VAULT, OID)
    assert name == assignment_name(VAULT.lower() + "/", OID.upper())
    assert name != assignment_name(VAULT, "1a5f7b3c-8d2e-4f9a-8b4c-6d7e8f9a0b12")
    assert name != assignment_name(VAULT.replace("kv-soc", "kv-other"), OID)
    assert name != assignment_name(VAULT, OID, "b86a8fe4-44ce-4948-aee5-eccb2c155cd7")
    assert len(name) == 36 and name.count("-") == 4


def test_scopes_are_named_as_people_say_them() -> None:
    sub = "/subscriptions/3f2b6c1e-8a4d-4c3b-9e1f-5a6b7c8d9e0f"
    assert scope_label(VAULT, VAULT) == "the vault kv-soc"
    assert scope_label(f"{sub}/resourceGroups/rg-soc", VAULT) == "resource group rg-soc"
    assert scope_label(sub, VAULT) == "subscription 3f2b6c1e-8a4d-4c3b-9e1f-5a6b7c8d9e0f"
    mg = "/providers/Microsoft.Management/managementGroups/mssp"
    assert scope_label(mg, VAULT) == "management group mssp"
