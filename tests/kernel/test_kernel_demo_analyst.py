"""`invoke demo-analyst`: msticpy, in the kernel the rendered startup script patched, reads
every TI provider key from the emulated vault as the analyst (issue 28).

What the demo relies on, and where it was read:
- msticpy ``common/provider_settings.py``: ``get_provider_settings`` turns each
  ``{KeyVault: ...}`` argument into a ``SecretsClient`` accessor; ``ProviderArgs.__getitem__``
  calls it. ``auth/secret_settings.py``: ``SecretsClient.format_kv_name`` names the secret.
- msticpy ``auth/keyvault_client.py``: ``BHKeyVaultClient`` builds the vault URI from
  ``KeyVault.VaultName`` and the cloud's ``keyVaultDns`` suffix, and tries ``Azure.auth_methods``
  one by one; ``auth/cloud_mappings.py`` reads the cloud from
  ``https://management.azure.com/metadata/endpoints?api-version=latest``.
- msticpy ``auth/azure_auth_core.py``: ``_build_cli_client`` raises when the Azure CLI is
  missing and ``_build_msi_client`` takes ``AZURE_CLIENT_ID`` for ``ManagedIdentityCredential``.
- azure-identity ``_credentials/azure_cli.py``: ``az account get-access-token --output json
  --resource R``, parsed by ``parse_token``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from azure.identity import AzureCliCredential
from kernel_helpers import REPO, run_invoke
from msticpy.auth.secret_settings import SecretsClient

from provision.emulator import Emulator, seed_tenants_from_inventory
from provision.emulator.identity.urls import MSI_PREFIX
from provision.inventory.load import load_inventory

EXAMPLES = REPO / "examples"
BOB = "3d6c2a71-5b8e-4f09-a1c2-7e4d9b0f6a13"  # examples/inventory.yaml: contoso's bob
VAULT = "kv-contoso-nb"
_FOREIGN = ("AZURE_", "AZUREML_", "IDENTITY_", "MSI_", "ARM_", "JUPYTER_")


def _env(state: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_FOREIGN) and k not in {"MSTICPYCONFIG", "HTTPS_PROXY", "https_proxy"}
    }
    env["MSTICPY_PROVISION_LOCAL_DIR"] = str(state)
    return env


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLES, tmp_path / "fleet")
    return tmp_path / "fleet" / "inventory.yaml"


# Setting path -> secret file of contoso's TI keys in examples/inventory.yaml.
CONTOSO_TI_KEYS = {
    "TIProviders.VirusTotal.Args.AuthKey": "contoso-virustotal.txt",
    "TIProviders.OTX.Args.AuthKey": "contoso-otx.txt",
    "TIProviders.XForce.Args.ApiID": "contoso-xforce-id.txt",
    "TIProviders.XForce.Args.AuthKey": "contoso-xforce-key.txt",
    "TIProviders.GreyNoise.Args.AuthKey": "contoso-greynoise.txt",
}


@pytest.mark.slow
def test_msticpy_reads_every_ti_key_as_the_analyst(fleet: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    demo = run_invoke("demo-analyst", "-i", str(fleet), "-t", "contoso", env=_env(state))
    assert demo.returncode == 0, demo.stdout + demo.stderr
    out = demo.stdout
    assert "onboarded: secrets pushed to the emulated vault" in out
    assert "python310-sdkv2/kernel.json sets MSTICPYCONFIG=" in out
    for path in CONTOSO_TI_KEYS:
        # The secret msticpy itself names for the setting, read by msticpy's own client.
        secret = SecretsClient.format_kv_name(path)
        assert f"ok    {path} <- {VAULT}/{secret}: msticpy got the vault's value" in out
    assert (
        "ok    TILookup loaded every configured provider: AzureSentinel, GreyNoise, OTX, "
        "TorExitNodes, VirusTotal, XForce" in out
    )
    assert "All 12 checks passed" in out
    for name in CONTOSO_TI_KEYS.values():  # no secret value is ever printed
        value = (fleet.parent / "secrets" / name).read_text(encoding="utf-8").strip()
        assert value not in out and value not in demo.stderr
    # In the request log: msticpy called the vault by its Azure hostname, as bob, and read
    # each key; the proxy refused nothing on the way.
    log = Emulator(state).requests()
    kv = [e for e in log if e.get("host") == f"{VAULT}.vault.azure.net"]
    assert {e["principal"] for e in kv if e.get("principal")} == {BOB}
    read = {e["path"].split("/")[2] for e in kv if e["op"] == "GetSecret"}  # /secrets/NAME/
    assert {SecretsClient.format_kv_name(p) for p in CONTOSO_TI_KEYS} <= read
    assert not [e for e in log if e["service"] == "proxy" and e["status"] == 502]

    again = run_invoke("demo-analyst", "-i", str(fleet), "-t", "contoso", env=_env(state))
    assert again.returncode == 0, again.stdout
    assert "already onboarded: Users/bob/msticpyconfig.yaml is on the share" in again.stdout


@pytest.mark.slow
def test_an_analyst_without_access_gets_msticpys_error_and_the_missing_role(
    fleet: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    # Onboarded without --grant-access: bob has no role on the vault.
    onboard = run_invoke("onboard", "-i", str(fleet), "-t", "contoso", "--local", env=_env(state))
    assert onboard.returncode == 0, onboard.stdout + onboard.stderr
    demo = run_invoke("demo-analyst", "-i", str(fleet), "--user", "bob", env=_env(state))
    assert demo.returncode == 1
    lines = demo.stdout.splitlines()
    failed = [line for line in lines if "FAIL" in line]
    # msticpy's own error: its SecretsClient lists the vault first, and Key Vault says 403.
    assert failed == [
        "   FAIL  msticpy failed: azure.core.exceptions.HttpResponseError: (Forbidden) Caller "
        "is not authorized to perform action on resource."
    ]
    assert f"   bob on {VAULT}: missing: needs Key Vault Secrets User on {VAULT}" in lines
    assert "Traceback" not in demo.stdout + demo.stderr


def test_a_user_without_object_id_is_refused_in_one_line(fleet: Path, tmp_path: Path) -> None:
    demo = run_invoke("demo-analyst", "-i", str(fleet), "--user", "alice", env=_env(tmp_path))
    assert demo.returncode == 1
    assert demo.stderr.strip().splitlines() == [
        "error: --user alice: tenant contoso gives no object_id for alice; the emulator signs "
        "the analyst's token for that Entra object id: add {alias: alice, object_id: <uuid>} "
        "to the inventory"
    ]
    assert not (tmp_path / "state.json").exists()  # refused before the emulator started


def test_az_standin_gives_azure_cli_credential_the_analysts_token(
    fleet: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from provision.demo_sandbox import az_standin

    inventory = load_inventory(fleet)
    contoso = inventory.tenants[0]
    with Emulator(tmp_path / "emu") as emu:
        emu.seed(seed_tenants_from_inventory(inventory))
        folder = az_standin(tmp_path)
        monkeypatch.setenv("PATH", os.pathsep.join([str(folder), os.environ["PATH"]]))
        monkeypatch.setenv(
            "IDENTITY_ENDPOINT", f"{emu.base_url}{MSI_PREFIX}/{contoso.tenant_id}/token"
        )
        monkeypatch.setenv("IDENTITY_HEADER", emu.endpoints["managed_identity"]["header"])
        monkeypatch.setenv("AZURE_CLIENT_ID", BOB)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(emu.ca_bundle))
        token = AzureCliCredential().get_token("https://vault.azure.net/.default")
        principal = emu.backend.principal(token.token)
        assert principal is not None
        assert (principal.tenant_id, principal.object_id) == (contoso.tenant_id, BOB)
        assert principal.audience == "https://vault.azure.net"
        other = subprocess.run(
            [str(folder / "az"), "login"], capture_output=True, text=True, check=False
        )
        assert (
            other.returncode == 2 and "only answers 'az account get-access-token'" in other.stderr
        )
    assert shutil.which("az", path=str(folder)) == str(folder / "az")
    assert sys.executable in (folder / "az").read_text(encoding="utf-8").splitlines()[0]
