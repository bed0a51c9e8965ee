"""Choosing a sign-in: the flag over the environment, the unencrypted cache only when allowed,
the GitHub OIDC audience of the tenant's cloud (held against the emulator's Entra checks)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from signin_helpers import ARM_SCOPE, HOME
from support import run_invoke

from provision.azure import load_endpoints_file
from provision.emulator import Emulator
from provision.errors import UserInputError
from provision.signin import AuthMode, SignIn, SignInCredentials, secret_store


def test_the_flag_wins_over_the_environment_and_the_environment_over_the_default() -> None:
    env = {
        "MSTICPY_PROVISION_AUTH": "github-oidc",
        "MSTICPY_PROVISION_ALLOW_UNENCRYPTED_CACHE": "1",
    }
    assert SignIn.from_flags("cli", False, env).mode is AuthMode.CLI
    from_env = SignIn.from_flags(None, False, env)
    assert from_env.mode is AuthMode.GITHUB_OIDC
    assert from_env.allow_unencrypted_cache
    assert SignIn.from_flags(None, False, {}).mode is AuthMode.DEFAULT
    with pytest.raises(UserInputError) as bad:
        SignIn.from_flags(None, False, {"MSTICPY_PROVISION_AUTH": "Device-Code"})
    assert bad.value.lines() == [
        "MSTICPY_PROVISION_AUTH 'Device-Code': use one of default, cli, device-code, browser, "
        "github-oidc, managed-identity"
    ]


@pytest.mark.skipif(secret_store(), reason="a secret store exists here: the cache is encrypted")
def test_no_secret_store_and_no_opt_in_is_refused_before_anything_starts(
    fleet: Path, tmp_path: Path
) -> None:
    run = run_invoke(
        "plan",
        "-i",
        str(fleet),
        "--local",
        "--auth",
        "device-code",
        env={"HOME": str(tmp_path), "MSTICPY_PROVISION_LOCAL_DIR": str(tmp_path / "emu")},
    )
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert "no secret store to encrypt the token cache" in lines[0]
    assert "--allow-unencrypted-cache" in lines[0]
    assert not (tmp_path / "emu").exists()  # nothing started
    assert not (tmp_path / ".IdentityService").exists()  # nothing written


def test_a_sovereign_cloud_tenant_asks_github_for_its_clouds_audience(
    authority: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entra in Azure Government federates GitHub's token for api://AzureADTokenExchangeUSGov;
    the emulator's applications trust the public audience, so the exchange is refused with the
    audience the tool asked for (AADSTS700212)."""
    endpoints = authority.endpoints["github_oidc"]
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", endpoints["request_url"])
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", endpoints["request_token"])
    public = load_endpoints_file(authority.endpoints_file)
    signin = SignIn(mode=AuthMode.GITHUB_OIDC)
    with requests.Session() as session:
        ok = SignInCredentials(signin, public, lambda: None, session, os.environ)
        assert ok.credential(HOME.tenant_id).get_token(ARM_SCOPE).token
        usgov = dataclasses.replace(public, name="usgov")
        refused = SignInCredentials(signin, usgov, lambda: None, session, os.environ)
        with pytest.raises(ClientAuthenticationError) as error:
            refused.credential(HOME.tenant_id).get_token(ARM_SCOPE)
    assert "AADSTS700212" in str(error.value)
    assert "api://AzureADTokenExchangeUSGov" in str(error.value)
