"""The credentials `--auth browser`, `managed-identity` and `cli` build, each through the real
azure-identity credential against the emulator: the browser sign-in once (a stand-in browser),
then a guest tenant silently; the managed identity of env.sh; the CLI as a process per token."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
import requests
from signin_helpers import (
    ARM_SCOPE,
    GUEST,
    HOME,
    VAULT_SCOPE,
    StandInBrowser,
    claims,
    forget_browser,
    use_browser,
)

from provision.azure import load_endpoints_file
from provision.emulator import Emulator
from provision.emulator.identity.users import ADMIN_USER
from provision.signin import AuthMode, SignIn, SignInCredentials, record_path


def _credentials(emu: Emulator, mode: AuthMode) -> SignInCredentials:
    signin = SignIn(mode=mode, allow_unencrypted_cache=True)
    ep = load_endpoints_file(emu.endpoints_file)
    return SignInCredentials(signin, ep, lambda: None, requests.Session(), os.environ)


def test_browser_signs_in_once_then_a_guest_tenant_silently(
    authority: Emulator, home_dir: Path
) -> None:
    browser = use_browser(StandInBrowser(authority))
    try:
        credential = _credentials(authority, AuthMode.BROWSER).credential(HOME.tenant_id)
    finally:
        forget_browser(browser)
    assert len(browser.opened) == 1 and not browser.errors
    guest = claims(credential.get_token(VAULT_SCOPE, tenant_id=GUEST.tenant_id).token)
    assert (guest["upn"], guest["tid"]) == (ADMIN_USER, GUEST.tenant_id)
    assert stat.S_IMODE(record_path().stat().st_mode) == 0o600
    # the next run: the record and the cache, no browser
    again = use_browser(StandInBrowser(authority))
    try:
        token = _credentials(authority, AuthMode.BROWSER).credential(HOME.tenant_id)
        assert claims(token.get_token(ARM_SCOPE).token)["tid"] == HOME.tenant_id
    finally:
        forget_browser(again)
    assert again.opened == []


def test_managed_identity_is_the_endpoints_identity(
    authority: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    msi = authority.endpoints["managed_identity"]
    monkeypatch.setenv("IDENTITY_ENDPOINT", msi["endpoint"])
    monkeypatch.setenv("IDENTITY_HEADER", msi["header"])
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(authority.ca_bundle))
    monkeypatch.delenv("AZURE_CLIENT_ID", raising=False)
    credential = _credentials(authority, AuthMode.MANAGED_IDENTITY).credential(HOME.tenant_id)
    got = claims(credential.get_token(ARM_SCOPE).token)
    assert (got["tid"], got["appid"]) == (
        HOME.tenant_id,
        authority.endpoints["tenants"][HOME.tenant_id]["client_id"],
    )


def test_cli_runs_az_once_per_token(
    authority: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The emulator's `az` stand-in (provision/emulator/az_standin.py) on PATH: each token is
    one `az account get-access-token` process."""
    calls = tmp_path / "calls"
    standin = Path(__file__).parents[2] / "provision" / "emulator" / "az_standin.py"
    az = tmp_path / "bin" / "az"
    az.parent.mkdir()
    az.write_text(
        f'#!/bin/sh\necho "$@" >> "{calls}"\nexec "{sys.executable}" -I "{standin}" "$@"\n'
    )
    az.chmod(0o755)
    msi = authority.endpoints["managed_identity"]
    monkeypatch.setenv("PATH", f"{az.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("IDENTITY_ENDPOINT", msi["endpoint"])
    monkeypatch.setenv("IDENTITY_HEADER", msi["header"])
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(authority.ca_cert))
    credential = _credentials(authority, AuthMode.CLI).credential(HOME.tenant_id)
    for scope in (ARM_SCOPE, VAULT_SCOPE):
        assert claims(credential.get_token(scope, tenant_id=HOME.tenant_id).token)["tid"]
    lines = calls.read_text().splitlines()
    assert len(lines) == 2
    assert all(line.startswith("account get-access-token") for line in lines)
    assert all(f"--tenant {HOME.tenant_id}" in line for line in lines)
