"""Real Azure access rules, enforced by the emulator and met by the tool (through `invoke`).

- Files without Shared Key: with `allowSharedKeyAccess: false` every key-signed request gets 403
  `KeyBasedAuthenticationNotPermitted` (Microsoft Learn, "Prevent Shared Key authorization for
  an Azure Storage account"); Azure Files takes Entra ID tokens with
  `x-ms-file-request-intent: backup` (REST 2022-11-02 for files and directories; all data-plane
  operations from 2024-11-04). A principal with only Storage File Data Privileged Reader gets
  403 `AuthorizationPermissionMismatch` on writes.
- One token per tenant: ARM refuses a token of another tenant with 401
  `InvalidAuthenticationTokenTenant` (Microsoft Learn, "Troubleshoot ... InvalidAuthentication
  TokenTenant"), so every request must carry a token of the subscription's own tenant.
- A disabled secret answers GET with 403 and inner error `SecretDisabled` (Key Vault REST, Get
  Secret; "Operation get is not allowed on a disabled secret").
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientSecretCredential
from azure.mgmt.machinelearningservices import MachineLearningServicesMgmtClient
from support import EXAMPLE, run_invoke
from support.clients import secret_client

from provision.emulator import Emulator, seed_tenants_from_inventory
from provision.emulator.requestlog import is_write
from provision.emulator.seed import SeedPrincipal
from provision.inventory.load import load_inventory

CONTOSO_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
READER_APP = "plan-reader-app"


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLE.parent, tmp_path / "fleet")
    return tmp_path / "fleet" / "inventory.yaml"


def _emulator(tmp_path: Path, fleet: Path, **changes: Any) -> Emulator:
    emu = Emulator(tmp_path / "emu").start()
    inv = load_inventory(fleet)
    seeds = [dataclasses.replace(t, **changes) for t in seed_tenants_from_inventory(inv)]
    emu.seed(seeds)
    return emu


@pytest.fixture
def no_shared_key(tmp_path: Path, fleet: Path) -> Iterator[Emulator]:
    emu = _emulator(tmp_path, fleet, allow_shared_key_access=False)
    try:
        yield emu
    finally:
        emu.stop()


def _run(cmd: str, fleet: Path, emu: Emulator, *extra: str, endpoints: Path | None = None) -> Any:
    ep = str(endpoints or emu.endpoints_file)
    return run_invoke(cmd, "-i", str(fleet), "--endpoints", ep, *extra)


def test_auto_uses_a_token_where_shared_key_is_forbidden_and_never_lists_keys(
    fleet: Path, no_shared_key: Emulator
) -> None:
    emu = no_shared_key
    res = _run("onboard", fleet, emu)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Entra ID token: the storage account does not allow Shared Key" in res.stdout
    log = emu.requests()
    assert not [r for r in log if "Keys" in str(r.get("op"))], "listKeys must not be called"
    files = [r for r in log if r["service"] == "files"]
    assert files and all(r.get("principal") for r in files), "every Files call carries a token"
    again = _run("plan", fleet, emu, "--detailed-exitcode")
    assert again.returncode == 0, again.stdout


def test_key_mode_on_a_keyless_account_fails_with_one_line_naming_the_policy(
    fleet: Path, no_shared_key: Emulator
) -> None:
    res = _run("plan", fleet, no_shared_key, "--storage-auth", "key", "-t", "contoso")
    assert res.returncode == 1
    [line] = [ln for ln in res.stdout.splitlines() if "error:" in ln]
    assert "does not allow Shared Key access" in line and "--storage-auth token" in line
    assert "Traceback" not in res.stderr


def test_a_reader_only_identity_plans_with_a_token_and_is_refused_writes_clearly(
    tmp_path: Path, fleet: Path
) -> None:
    reader = SeedPrincipal(
        READER_APP,
        roles=[
            ("Reader", "resource-group"),
            ("Key Vault Secrets User", "vault"),
            ("Storage File Data Privileged Reader", "storage"),
        ],
    )
    emu = _emulator(tmp_path, fleet, principals=[reader])
    try:
        assert _run("apply", fleet, emu, "-t", "contoso").returncode == 0  # as the admin app
        # The same emulator, but the tool signs in to contoso as the read-only app.
        ep = json.loads(emu.endpoints_file.read_text())
        ep["tenants"][CONTOSO_TENANT] = {"client_id": READER_APP, "client_secret": "any"}
        as_reader = tmp_path / "reader-endpoints.json"
        as_reader.write_text(json.dumps(ep))
        plan = _run("plan", fleet, emu, "-t", "contoso", "--storage-auth", "token",
                    endpoints=as_reader)  # fmt: skip
        assert plan.returncode == 0, plan.stdout + plan.stderr
        mark = len(emu.requests())
        (fleet.parent / "secrets" / "contoso-otx.txt").write_text("DEMO-ROTATED\n")
        apply = _run("apply", fleet, emu, "-t", "contoso", "--storage-auth", "token",
                     endpoints=as_reader)  # fmt: skip
        assert apply.returncode == 1
        assert "Traceback" not in apply.stderr
        err = [ln for ln in apply.stdout.splitlines() if "error:" in ln]
        assert len(err) == 1, apply.stdout
        assert "Key Vault Secrets Officer" in err[0] or "Privileged Contributor" in err[0], err
        assert not [r for r in emu.requests()[mark:] if is_write(r) and r["status"] < 300]
    finally:
        emu.stop()


def test_two_entra_tenants_onboard_from_one_process_each_with_its_own_token(
    tmp_path: Path, fleet: Path
) -> None:
    inv = load_inventory(fleet)
    assert len({t.tenant_id for t in inv.tenants}) == 2
    emu = _emulator(tmp_path, fleet)
    try:
        res = _run("onboard", fleet, emu)
        assert res.returncode == 0, res.stdout + res.stderr
        by_sub = {t.subscription_id: t.tenant_id for t in inv.tenants}
        by_vault = {t.key_vault: t.tenant_id for t in inv.tenants}
        checked = 0
        for r in emu.requests():
            if r["service"] == "arm" and "tenant" in r and "/subscriptions/" in r["path"]:
                sub = r["path"].split("/subscriptions/")[1].split("/")[0]
                if sub in by_sub:
                    assert r["tenant"] == by_sub[sub], r
                    checked += 1
            if r["service"] == "keyvault" and "tenant" in r:
                assert r["tenant"] == by_vault[r["path"].split("/")[2]], r
                checked += 1
        assert checked > 20
        assert all(r.get("tenant") != "*" for r in emu.requests()), "no static token in --local"
        # onboard's plan, apply and verify share each tenant's clients: one sign-in per tenant
        # and kind of token (ARM, Key Vault), not one per step.
        tokens = [r for r in emu.requests() if r["service"] == "identity" and r["op"] == "GetToken"]
        assert len(tokens) <= 2 * len(inv.tenants), len(tokens)
        # A token of the other tenant is refused by ARM with Azure's code, through the official
        # ClientSecretCredential against the emulator's authority.
        ep = json.loads(emu.endpoints_file.read_text())
        contoso = next(t for t in inv.tenants if t.name == "contoso")
        fabrikam = next(t for t in inv.tenants if t.name == "fabrikam")
        app = ep["tenants"][fabrikam.tenant_id]
        wrong = ClientSecretCredential(
            fabrikam.tenant_id,
            app["client_id"],
            app["client_secret"],
            authority=ep["authority"],
            disable_instance_discovery=True,
            connection_verify=ep["ca_cert"],
        )
        ml = MachineLearningServicesMgmtClient(
            wrong, contoso.subscription_id, base_url=ep["arm"], connection_verify=ep["ca_cert"]
        )
        with pytest.raises(ClientAuthenticationError) as exc:
            ml.workspaces.get(contoso.resource_group, contoso.ml_workspace)
        assert exc.value.error is not None
        assert exc.value.error.code == "InvalidAuthenticationTokenTenant"
    finally:
        emu.stop()


def test_a_disabled_secret_is_planned_as_disabled_and_apply_converges(
    tmp_path: Path, fleet: Path
) -> None:
    emu = _emulator(tmp_path, fleet)
    try:
        assert _run("apply", fleet, emu).returncode == 0
        name = "TIProviders-VirusTotal-Args-AuthKey"
        kv = secret_client(emu, "kv-contoso-nb")
        kv.update_secret_properties(name, enabled=False)
        plan = _run("plan", fleet, emu, "--json", "-t", "contoso")
        items = json.loads(plan.stdout)["tenants"][0]["items"]
        [item] = [i for i in items if i["action"] != "noop" and i["kind"] == "secret"]
        assert (item["target"], item["action"], item["detail"]) == (
            f"kv-contoso-nb/{name}",
            "update",
            "disabled",
        )
        table = _run("plan", fleet, emu, "-t", "contoso")
        assert "disabled" in table.stdout
        assert _run("apply", fleet, emu, "-t", "contoso").returncode == 0
        assert kv.get_secret(name).properties.enabled is True
        assert _run("plan", fleet, emu, "--detailed-exitcode").returncode == 0
    finally:
        emu.stop()
