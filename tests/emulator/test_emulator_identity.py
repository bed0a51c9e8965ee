"""Tenants and tokens: the emulator's Entra-ID-shaped authority, ARM's, Key Vault's and Files'
tenant checks, and a plain SecretClient without ``verify_challenge_resource=False`` -- all through
azure-identity's ClientSecretCredential and the official SDK clients."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientSecretCredential
from azure.keyvault.secrets import SecretClient
from azure.mgmt.machinelearningservices import MachineLearningServicesMgmtClient
from azure.storage.fileshare import ShareClient
from emulator_helpers import TENANT, unique
from support.clients import fast_storage_retry

from provision.emulator import Emulator, SeedTenant
from provision.emulator.seed import NOTEBOOK_SHARE, storage_account_name

OTHER = SeedTenant(
    tenant_id="0d2b7c64-91e3-4a8f-b1d5-6e2f3a4b5c6d",
    subscription_id="5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b",
    resource_group="rg-other",
    workspace="ws-other",
    key_vault="kv-other-team",
    users=[("carol", "ci-carol")],
    delegated_to=[TENANT.tenant_id],  # an Azure Lighthouse delegation to TENANT's admins
)
ARM_SCOPE = "https://management.azure.com/.default"


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """An emulator with two tenants in different Entra tenants."""
    with Emulator(tmp_path_factory.mktemp("two-tenants")) as emulator:
        emulator.seed([TENANT, OTHER])
        yield emulator


def admin_credential(emu: Emulator, tenant_id: str, **kwargs: Any) -> ClientSecretCredential:
    app = emu.endpoints["tenants"][tenant_id]
    return ClientSecretCredential(
        tenant_id,
        app["client_id"],
        app["client_secret"],
        authority=emu.endpoints["authority"],
        disable_instance_discovery=True,
        connection_verify=str(emu.ca_cert),
        **kwargs,
    )


def test_openid_configuration_has_what_msal_reads(two: Emulator) -> None:
    # msal's Authority reads authorization_endpoint and token_endpoint (required) and takes
    # the tenant from the token endpoint's first path segment (msal/authority.py).
    url = f"{two.endpoints['authority']}/{TENANT.tenant_id}/v2.0/.well-known/openid-configuration"
    config = requests.get(url, verify=str(two.ca_cert), timeout=10).json()
    assert config["token_endpoint"] == (
        f"{two.endpoints['authority']}/{TENANT.tenant_id}/oauth2/v2.0/token"
    )
    assert config["authorization_endpoint"].endswith(f"/{TENANT.tenant_id}/oauth2/v2.0/authorize")
    assert config["issuer"].endswith(f"/{TENANT.tenant_id}/v2.0")
    missing = requests.get(
        url.replace(TENANT.tenant_id, "11111111-2222-3333-4444-555555555555"),
        verify=str(two.ca_cert),
        timeout=10,
    )
    # Entra ID: AADSTS90002 "Tenant ... not found" as an OAuth error body.
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"
    assert missing.json()["error_codes"] == [90002]


def test_client_secret_credential_gets_a_token_per_tenant_and_arm_accepts_it(
    two: Emulator,
) -> None:
    for seed in (TENANT, OTHER):
        cred = admin_credential(two, seed.tenant_id)
        ml = MachineLearningServicesMgmtClient(
            cred,
            seed.subscription_id,
            base_url=two.endpoints["arm"],
            connection_verify=str(two.ca_cert),
        )
        assert [w.name for w in ml.workspaces.list_by_subscription()] == [seed.workspace]
    log = [e for e in two.requests() if e["service"] == "identity"]
    assert {e["op"] for e in log} >= {"GetOpenIdConfiguration", "GetToken"}
    # The request log says which tenant (and principal) each call's token was for.
    listed = [e for e in two.requests() if e["op"] == "ListWorkspacesBySubscription"]
    assert {(e["tenant"], e["principal"]) for e in listed} == {
        (seed.tenant_id, two.endpoints["tenants"][seed.tenant_id]["object_id"])
        for seed in (TENANT, OTHER)
    }


def test_tenant_credential_is_the_admin_of_that_tenant(two: Emulator) -> None:
    token = two.tenant_credential(OTHER.tenant_id).get_token(ARM_SCOPE).token
    principal = two.backend.identity.verify(token)
    assert principal is not None and principal.tenant_id == OTHER.tenant_id
    assert principal.object_id == two.endpoints["tenants"][OTHER.tenant_id]["object_id"]


def test_arm_refuses_a_token_of_another_tenant(two: Emulator) -> None:
    # ARM answers 401 InvalidAuthenticationTokenTenant with this wording (seen verbatim in
    # Azure/azure-sdk-for-python#38382 and Azure/azure-sdk-for-net#49391).
    wrong = admin_credential(two, OTHER.tenant_id)
    ml = MachineLearningServicesMgmtClient(
        wrong,
        TENANT.subscription_id,
        base_url=two.endpoints["arm"],
        connection_verify=str(two.ca_cert),
    )
    with pytest.raises(ClientAuthenticationError) as exc:
        ml.workspaces.get(TENANT.resource_group, TENANT.workspace)
    assert exc.value.status_code == 401
    assert exc.value.error is not None
    assert exc.value.error.code == "InvalidAuthenticationTokenTenant"
    message = str(exc.value.error.message)
    assert message.startswith(
        f"The access token is from the wrong issuer 'https://sts.windows.net/{OTHER.tenant_id}/'. "
        f"It must match the tenant 'https://sts.windows.net/{TENANT.tenant_id}/' associated with "
        "this subscription. Please use the authority (URL) "
        f"'https://login.windows.net/{TENANT.tenant_id}' to get the token."
    )


def test_plain_secret_client_follows_the_challenge_without_disabling_verification(
    two: Emulator,
) -> None:
    # azure-keyvault-secrets' ChallengeAuthPolicy._validate_challenge_resource accepts the
    # challenge's resource only when the vault host ends with ".<resource host>"; the challenge
    # names the vault's tenant in its authorization URI, which the policy passes as tenant_id.
    vault_url = two.endpoints["keyvault"].format(vault=OTHER.key_vault)
    client = SecretClient(
        vault_url, admin_credential(two, OTHER.tenant_id), connection_verify=str(two.ca_cert)
    )
    name = unique("plain")
    client.set_secret(name, "v1")
    assert client.get_secret(name).value == "v1"
    assert name in {p.name for p in client.list_properties_of_secrets()}


def test_key_vault_challenge_names_the_vault_tenant_so_a_foreign_credential_stops(
    two: Emulator,
) -> None:
    # The vault belongs to TENANT; a credential bound to OTHER's tenant is asked for a TENANT
    # token and azure-identity refuses (no additionally_allowed_tenants), as against Azure.
    vault_url = two.endpoints["keyvault"].format(vault=TENANT.key_vault)
    client = SecretClient(
        vault_url, admin_credential(two, OTHER.tenant_id), connection_verify=str(two.ca_cert)
    )
    with pytest.raises(ClientAuthenticationError) as exc:
        client.get_secret("anything")
    assert TENANT.tenant_id in str(exc.value)


def test_files_refuse_a_token_of_another_tenant(two: Emulator) -> None:
    account = storage_account_name(TENANT)
    common = {
        "account_url": two.endpoints["files"].format(account=account),
        "share_name": NOTEBOOK_SHARE,
        "token_intent": "backup",
        "connection_verify": str(two.ca_cert),
        "retry_policy": fast_storage_retry(),
    }
    ok = ShareClient(credential=admin_credential(two, TENANT.tenant_id), **common)
    file = ok.get_file_client(unique("tenant") + ".txt")
    file.upload_file(b"right tenant")
    wrong = ShareClient(credential=admin_credential(two, OTHER.tenant_id), **common)
    mark = len(two.requests())
    with pytest.raises(ClientAuthenticationError) as exc:
        wrong.get_file_client(file.file_name).download_file().readall()
    # Azure Storage answers 401 InvalidAuthenticationInfo ("Issuer validation failed") with a
    # challenge naming the account's tenant; the storage SDK's challenge policy then asks the
    # credential for a token of that tenant, which a credential bound to another one refuses.
    assert TENANT.tenant_id in str(exc.value)
    refused = [e for e in two.requests()[mark:] if e["service"] == "files"]
    assert refused and refused[0]["status"] == 401
    assert refused[0]["error"] == "InvalidAuthenticationInfo"


def test_a_registered_app_needs_its_own_secret(tmp_path_factory: pytest.TempPathFactory) -> None:
    with Emulator(tmp_path_factory.mktemp("secret")) as emu:
        emu.seed([TENANT])
        app = emu.endpoints["tenants"][TENANT.tenant_id]
        cred = ClientSecretCredential(
            TENANT.tenant_id,
            app["client_id"],
            "not-the-secret",
            authority=emu.endpoints["authority"],
            disable_instance_discovery=True,
            connection_verify=str(emu.ca_cert),
        )
        with pytest.raises(ClientAuthenticationError) as exc:
            cred.get_token(ARM_SCOPE)
        # Entra ID: AADSTS7000215 "Invalid client secret provided" (invalid_client).
        assert "AADSTS7000215" in str(exc.value)
        anyone = ClientSecretCredential(
            TENANT.tenant_id,
            "any-client-id",
            "any-secret",
            authority=emu.endpoints["authority"],
            disable_instance_discovery=True,
            connection_verify=str(emu.ca_cert),
        )
        with pytest.raises(ClientAuthenticationError) as unknown:
            anyone.get_token(ARM_SCOPE)
        # Entra ID: AADSTS700016 "Application with identifier ... was not found in the
        # directory" (unauthorized_client, 400), for a client id no application has.
        assert "AADSTS700016" in str(unknown.value)
        assert f"'any-client-id' was not found in the directory '{TENANT.tenant_id}'" in str(
            unknown.value
        )


def test_the_authority_answers_unknown_clients_and_wrong_secrets_in_entras_error_json(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The token endpoint's refusals, on the wire: status, OAuth error, AADSTS code in
    error_codes and error_description, as login.microsoftonline.com answers (MSAL reads these
    fields: error, error_description, error_codes, correlation_id)."""
    import requests

    with Emulator(tmp_path_factory.mktemp("refusals")) as emu:
        emu.seed([TENANT])
        app = emu.endpoints["tenants"][TENANT.tenant_id]
        url = f"{emu.endpoints['authority'].rstrip('/')}/{TENANT.tenant_id}/oauth2/v2.0/token"
        answers = {}
        for client_id, secret in (("made-up-client", "x"), (app["client_id"], "wrong")):
            resp = requests.post(
                url,
                data={
                    "grant_type": "client_credentials",
                    "client_id": client_id,
                    "client_secret": secret,
                    "scope": "https://management.azure.com/.default",
                },
                verify=str(emu.ca_cert),
                timeout=30,
            )
            body = resp.json()
            answers[client_id] = (resp.status_code, body["error"], body["error_codes"])
            assert body["error_description"].startswith(f"AADSTS{body['error_codes'][0]}: ")
            assert "access_token" not in body
        assert answers == {
            "made-up-client": (400, "unauthorized_client", [700016]),
            app["client_id"]: (401, "invalid_client", [7000215]),
        }


USER_PROGRAM = """
import asyncio, os, sys
import requests
from azure.identity import DefaultAzureCredential
from azure.identity.aio import DefaultAzureCredential as AsyncDefaultAzureCredential
from azure.keyvault.secrets import SecretClient
from azure.keyvault.secrets.aio import SecretClient as AsyncSecretClient
from azure.mgmt.machinelearningservices import MachineLearningServicesMgmtClient

vault_url, subscription_id = sys.argv[1], sys.argv[2]
credential = DefaultAzureCredential()
client = SecretClient(vault_url, credential)
client.set_secret("from-env", "hello")
print(client.get_secret("from-env").value)
cloud = requests.get(os.environ["ARM_CLOUD_METADATA_URL"], timeout=30).json()[0]
ml = MachineLearningServicesMgmtClient(
    credential, subscription_id, base_url=cloud["resourceManager"]
)
print(",".join(w.name for w in ml.workspaces.list_by_subscription()))

async def main():
    async with AsyncDefaultAzureCredential() as acred, AsyncSecretClient(vault_url, acred) as c:
        print((await c.get_secret("from-env")).value)

asyncio.run(main())
"""


def test_env_sh_is_the_whole_set_up_for_default_azure_credential(
    two: Emulator, tmp_path: Path
) -> None:
    # A program written as for real Azure (DefaultAzureCredential() with no arguments, a plain
    # SecretClient, sync and async) runs against the emulator after `source DIR/env.sh`:
    # azure-identity's ManagedIdentityCredential speaks the App Service protocol when
    # IDENTITY_ENDPOINT and IDENTITY_HEADER are set (_credentials/managed_identity.py).
    env_file = Path(two.endpoints["env_file"])
    text = env_file.read_text(encoding="utf-8")
    for name in (
        "REQUESTS_CA_BUNDLE",
        "SSL_CERT_FILE",
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
        "ARM_CLOUD_METADATA_URL",
    ):
        assert f"export {name}=" in text
    assert two.endpoints["managed_identity"]["tenant_id"] == TENANT.tenant_id
    program = tmp_path / "program.py"
    program.write_text(USER_PROGRAM, encoding="utf-8")
    vault_url = two.endpoints["keyvault"].format(vault=TENANT.key_vault)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "IDENTITY_"))}
    result = subprocess.run(
        [
            "bash",
            "-c",
            'source "$1" && exec "$2" "$3" "$4" "$5"',
            "sh",
            str(env_file),
            sys.executable,
            str(program),
            vault_url,
            TENANT.subscription_id,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["hello", TENANT.workspace, "hello"]
    ops = {e["op"] for e in two.requests() if e["service"] == "identity"}
    assert "GetManagedIdentityToken" in ops


def test_lighthouse_delegation_lets_the_managing_tenant_use_arm(two: Emulator) -> None:
    # Azure Lighthouse: principals of the managing tenant call ARM on the delegated customer
    # subscription with tokens of their own tenant (Microsoft Learn, "Azure Lighthouse
    # architecture"); the reverse direction stays refused.
    managing = admin_credential(two, TENANT.tenant_id)
    ml = MachineLearningServicesMgmtClient(
        managing,
        OTHER.subscription_id,
        base_url=two.endpoints["arm"],
        connection_verify=str(two.ca_cert),
    )
    assert [w.name for w in ml.workspaces.list_by_subscription()] == [OTHER.workspace]
    listed = [e for e in two.requests() if e["op"] == "ListWorkspacesBySubscription"]
    assert listed[-1]["tenant"] == TENANT.tenant_id


def test_arm_refuses_a_token_for_another_resource(two: Emulator) -> None:
    # ARM: 401 InvalidAuthenticationToken "The access token has been obtained for wrong
    # audience or resource ..." for a token of another resource (here Key Vault's).
    ml = MachineLearningServicesMgmtClient(
        admin_credential(two, TENANT.tenant_id),
        TENANT.subscription_id,
        base_url=two.endpoints["arm"],
        connection_verify=str(two.ca_cert),
        credential_scopes=["https://vault.azure.net/.default"],
    )
    with pytest.raises(ClientAuthenticationError) as exc:
        ml.workspaces.get(TENANT.resource_group, TENANT.workspace)
    assert exc.value.error is not None and exc.value.error.code == "InvalidAuthenticationToken"
    assert "wrong audience or resource 'https://vault.azure.net'" in str(exc.value.error.message)


def test_token_endpoint_wants_a_default_scope(two: Emulator) -> None:
    # Entra ID's client-credentials flow accepts only "<resource>/.default" (AADSTS1002012).
    with pytest.raises(ClientAuthenticationError) as exc:
        admin_credential(two, TENANT.tenant_id).get_token("https://vault.azure.net/secrets.read")
    assert "AADSTS1002012" in str(exc.value)


def test_user_assigned_managed_identity_by_client_id(
    two: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # azure-identity's App Service source sends client_id as a query parameter for a
    # user-assigned identity (_credentials/app_service.py: identity_config in the params).
    from azure.identity import ManagedIdentityCredential

    msi = two.endpoints["managed_identity"]
    monkeypatch.setenv("IDENTITY_ENDPOINT", msi["endpoint"])
    monkeypatch.setenv("IDENTITY_HEADER", msi["header"])
    with two.backend.lock:
        two.backend.identity.add_app(TENANT.tenant_id, "uami-client", object_id=str(uuid.uuid4()))
    cred = ManagedIdentityCredential(client_id="uami-client", connection_verify=str(two.ca_cert))
    token = cred.get_token("https://vault.azure.net/.default").token
    principal = two.backend.identity.verify(token)
    assert principal is not None and principal.app_id == "uami-client"
    unknown = ManagedIdentityCredential(client_id="nobody", connection_verify=str(two.ca_cert))
    with pytest.raises(ClientAuthenticationError):
        unknown.get_token("https://vault.azure.net/.default")
