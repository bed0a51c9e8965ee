"""The emulator's authority runs Entra ID's user and workload flows, through azure-identity's
own credentials: device code (polling until the user enters the code), authorization code with
PKCE (a stand-in browser), refresh tokens redeemed in a guest tenant and refused in a tenant the
user is not in, and federated credentials (a GitHub-shaped OIDC token exchanged for an
application's token; a wrong subject refused).

Entra's answers these tests hold the emulator to:
- device code: 400 ``authorization_pending`` AADSTS70016 while the user has not entered the code,
  ``interval`` 5 (Microsoft Q&A "OAuth 2.0 device authorization grant flow", Entra's body quoted);
  msal polls on it (``msal/oauth2cli/oauth2.py`` DEVICE_FLOW_RETRIABLE_ERRORS).
- a user not in the tenant: AADSTS50020 (learn.microsoft.com troubleshoot
  "error-code-aadsts50020-user-account-identity-provider-does-not-exist").
- a federated assertion no credential matches: 400 ``invalid_request`` AADSTS70021 naming issuer,
  subject and audience (Azure/azure-workload-identity issue 616, Entra's body quoted).
- GitHub's ID token request answers ``{"value": JWT}`` (actions/toolkit
  ``packages/core/src/oidc-utils.ts``), audience ``api://AzureADTokenExchange`` for Entra.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import jwt
import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import (
    AuthenticationRequiredError,
    ClientAssertionCredential,
    DeviceCodeCredential,
    InteractiveBrowserCredential,
)
from signin_helpers import (
    ARM_SCOPE,
    GUEST,
    HOME,
    VAULT_SCOPE,
    StandInBrowser,
    add_stranger_tenant,
    claims,
    enter_device_code,
    forget_browser,
    use_browser,
)

from provision.emulator import Emulator
from provision.emulator.identity.federation import EXCHANGE_AUDIENCE, GITHUB_ISSUER
from provision.emulator.identity.users import ADMIN_USER, user_object_id


def token_requests(emu: Emulator, since: int, tenant: str = "") -> list[dict[str, Any]]:
    return [
        r
        for r in emu.requests()[since:]
        if r["service"] == "identity" and r["path"].startswith(f"/{tenant}")
    ]


def device_code_credential(emu: Emulator, **kwargs: Any) -> DeviceCodeCredential:
    def user_enters_code(verification_uri: str, user_code: str, expires_on: Any) -> None:
        # the user takes a moment: the credential's first poll finds the code pending
        timer = threading.Timer(0.3, enter_device_code, (emu, verification_uri, user_code))
        timer.start()

    return DeviceCodeCredential(
        tenant_id=HOME.tenant_id,
        authority=emu.base_url,
        disable_instance_discovery=True,
        connection_verify=str(emu.ca_cert),
        additionally_allowed_tenants=["*"],
        prompt_callback=user_enters_code,
        **kwargs,
    )


def test_device_code_polls_pending_until_the_user_enters_the_code(authority: Emulator) -> None:
    since = len(authority.requests())
    credential = device_code_credential(authority)
    record = credential.authenticate(scopes=[ARM_SCOPE])
    assert record.username == ADMIN_USER
    assert record.tenant_id == HOME.tenant_id
    token = credential.get_token(ARM_SCOPE)
    got = claims(token.token)
    assert got["upn"] == ADMIN_USER
    assert got["tid"] == HOME.tenant_id
    assert got["oid"] == user_object_id(HOME.tenant_id, ADMIN_USER)
    polls = [r for r in token_requests(authority, since) if r["path"].endswith("/token")]
    assert [r["status"] for r in polls] == [400, 200]  # authorization_pending, then the tokens


def test_guest_tenant_token_comes_silently_from_the_refresh_token(authority: Emulator) -> None:
    credential = device_code_credential(authority, disable_automatic_authentication=True)
    credential.authenticate(scopes=[ARM_SCOPE])
    since = len(authority.requests())
    token = credential.get_token(VAULT_SCOPE, tenant_id=GUEST.tenant_id)
    got = claims(token.token)
    assert got["tid"] == GUEST.tenant_id
    assert got["oid"] == user_object_id(GUEST.tenant_id, ADMIN_USER)  # the guest object
    assert got["aud"] == "https://vault.azure.net"
    grants = [r for r in token_requests(authority, since) if r["method"] == "POST"]
    assert [(r["path"], r["status"]) for r in grants] == [
        (f"/{GUEST.tenant_id}/oauth2/v2.0/token", 200)
    ]


def test_refresh_token_refused_where_the_user_is_not_a_guest(authority: Emulator) -> None:
    stranger = add_stranger_tenant(authority)
    credential = device_code_credential(authority, disable_automatic_authentication=True)
    credential.authenticate(scopes=[ARM_SCOPE])
    with pytest.raises(AuthenticationRequiredError) as refused:
        credential.get_token(ARM_SCOPE, tenant_id=stranger)
    assert refused.value.response is not None
    body = refused.value.response.json()
    assert body["error"] == "invalid_grant"
    assert body["error_codes"] == [50020]
    assert f"does not exist in tenant '{stranger}'" in body["error_description"]


def test_browser_sign_in_redeems_a_pkce_code(authority: Emulator) -> None:
    browser = use_browser(StandInBrowser(authority))
    try:
        credential = InteractiveBrowserCredential(
            tenant_id=HOME.tenant_id,
            authority=authority.base_url,
            disable_instance_discovery=True,
            connection_verify=str(authority.ca_cert),
            timeout=20,
        )
        record = credential.authenticate(scopes=[ARM_SCOPE])
    finally:
        forget_browser(browser)
    assert not browser.errors
    assert "code_challenge_method=S256" in browser.opened[0]
    assert record.username == ADMIN_USER
    assert claims(credential.get_token(ARM_SCOPE).token)["upn"] == ADMIN_USER


def test_a_pkce_code_needs_its_verifier(authority: Emulator) -> None:
    """A code redeemed without the verifier whose digest is the challenge is refused."""
    verify = str(authority.ca_cert)
    tenant_root = f"{authority.base_url}/{HOME.tenant_id}/oauth2/v2.0"
    query = {
        "client_id": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
        "response_type": "code",
        "redirect_uri": "http://localhost:8400",
        "scope": ARM_SCOPE,
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    signed_in = requests.post(
        f"{tenant_root}/authorize",
        params=query,
        data={"login": ADMIN_USER},
        verify=verify,
        allow_redirects=False,
        timeout=10,
    )
    assert signed_in.status_code == 302
    code = requests.utils.urlparse(signed_in.headers["Location"]).query.split("code=")[1]
    code = requests.utils.unquote(code.split("&")[0])
    form = {
        "grant_type": "authorization_code",
        "client_id": query["client_id"],
        "code": code,
        "redirect_uri": query["redirect_uri"],
        "scope": ARM_SCOPE,
        "code_verifier": "not-the-verifier",
    }
    refused = requests.post(f"{tenant_root}/token", data=form, verify=verify, timeout=10)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    assert refused.json()["error_codes"] == [501481]


def _github_token(emu: Emulator, request_token: str) -> str:
    response = requests.get(
        f"{emu.base_url}/_oidc/idtoken",
        params={"api-version": "2.0", "audience": EXCHANGE_AUDIENCE},
        headers={"Authorization": f"bearer {request_token}"},
        verify=str(emu.ca_cert),
        timeout=10,
    )
    response.raise_for_status()
    value: str = response.json()["value"]
    return value


def test_the_workflow_token_verifies_against_the_issuers_published_keys(
    authority: Emulator,
) -> None:
    verify = str(authority.ca_cert)
    with authority.backend.lock:
        request_token = authority.backend.identity.oidc.request_token()
    token = _github_token(authority, request_token)
    config = requests.get(
        f"{authority.base_url}/_oidc/.well-known/openid-configuration", verify=verify, timeout=10
    ).json()
    assert config["issuer"] == GITHUB_ISSUER
    keys = requests.get(config["jwks_uri"], verify=verify, timeout=10).json()["keys"]
    key = jwt.PyJWK(keys[0]).key
    verified = jwt.decode(token, key, algorithms=["RS256"], audience=EXCHANGE_AUDIENCE)
    assert verified["iss"] == GITHUB_ISSUER
    assert verified["exp"] - verified["iat"] <= 300


def _assertion_credential(emu: Emulator, tenant: str, subject: str | None = None) -> Any:
    with emu.backend.lock:
        identity = emu.backend.identity
        request_token = (
            identity.oidc.request_token(subject) if subject else identity.oidc.request_token()
        )
        client_id = identity.admin_app(tenant).client_id
    fetched: list[float] = []

    def fresh_github_token() -> str:
        fetched.append(time.time())
        return _github_token(emu, request_token)

    credential = ClientAssertionCredential(
        tenant,
        client_id,
        fresh_github_token,
        authority=emu.base_url,
        disable_instance_discovery=True,
        connection_verify=str(emu.ca_cert),
    )
    return credential, fetched


def test_federated_assertion_is_exchanged_for_each_tenants_token(authority: Emulator) -> None:
    for tenant in (HOME.tenant_id, GUEST.tenant_id):
        credential, fetched = _assertion_credential(authority, tenant)
        got = claims(credential.get_token(ARM_SCOPE).token)
        assert got["tid"] == tenant
        with authority.backend.lock:
            assert got["appid"] == authority.backend.identity.admin_app(tenant).client_id
        assert len(fetched) == 1


def test_federated_assertion_with_a_wrong_subject_is_refused(authority: Emulator) -> None:
    subject = "repo:someone-else/fork:ref:refs/heads/main"
    credential, _ = _assertion_credential(authority, HOME.tenant_id, subject)
    with pytest.raises(ClientAuthenticationError) as refused:
        credential.get_token(ARM_SCOPE)
    assert "AADSTS70021" in str(refused.value)
    body = refused.value.response.json()  # type: ignore[union-attr]
    assert refused.value.response.status_code == 400  # type: ignore[union-attr]
    assert body["error"] == "invalid_request"
    assert body["error_codes"] == [70021]
    assert f"Assertion Subject: '{subject}'" in body["error_description"]
    assert f"Assertion Issuer: '{GITHUB_ISSUER}'" in body["error_description"]
