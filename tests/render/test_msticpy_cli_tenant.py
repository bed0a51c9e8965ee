"""Azure.tenant_id with the Azure CLI among the auth methods needs msticpy 2.16.2 or later.

Before 2.16.2 msticpy passed Azure.tenant_id to AzureCliCredential, which fails on an Azure ML
compute instance whose `az` is signed in with the instance's managed identity
(microsoft/msticpy#842, fixed in 409de94d). Since then msticpy/auth/azure_auth_core.py
(`_build_cli_client`) retries without the tenant when the CLI's error is about the tenant.
msticpy's own code is the oracle here: it runs against an `az` that behaves like a
managed-identity login (it refuses `--tenant`), and `validate` names the version the instances
need wherever the render holds Azure.tenant_id and cli is among the methods.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import time
from pathlib import Path

import pytest
from support import EXAMPLE, run_invoke

from provision.inventory.rules import MSTICPY_CLI_TENANT_FIX

TENANT = "4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c7d"

# `az account get-access-token` as on a compute instance signed in with `az login --identity`:
# the CLI refuses --tenant with the error reported in microsoft/msticpy#842.
FAKE_AZ = """#!{python}
import json, sys, time
args = sys.argv[1:]
if "--tenant" in args:
    sys.stderr.write("ERROR: Tenant shouldn't be specified for managed identity account")
    sys.exit(1)
print(json.dumps({{"accessToken": "token-from-managed-identity", "expiresOn":
    time.strftime("%Y-%m-%d %H:%M:%S.000000", time.localtime(time.time() + 3600)),
    "expires_on": int(time.time() + 3600), "subscription": "s", "tenant": "t",
    "tokenType": "Bearer"}}))
"""


@pytest.fixture
def managed_identity_az(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    az = folder / "az"
    az.write_text(FAKE_AZ.format(python=sys.executable))
    az.chmod(az.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return az


def test_msticpy_falls_back_from_the_tenant_where_az_is_signed_in_as_a_managed_identity(
    managed_identity_az: Path,
) -> None:
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import AzureCliCredential
    from msticpy import __version__ as msticpy_version
    from msticpy.auth.azure_auth_core import _build_cli_client
    from packaging.version import Version

    # What msticpy before the fix did: AzureCliCredential with the tenant fails here.
    with pytest.raises(ClientAuthenticationError, match="Tenant"):
        AzureCliCredential(tenant_id=TENANT).get_token("https://management.azure.com/.default")
    # msticpy since the fix retries without the tenant, and the installed one has it.
    assert Version(msticpy_version) >= Version(MSTICPY_CLI_TENANT_FIX)
    cred = _build_cli_client(tenant_id=TENANT)
    token = cred.get_token("https://management.azure.com/.default")
    assert token.token == "token-from-managed-identity"
    assert token.expires_on > time.time()


def test_validate_names_the_msticpy_the_instances_need(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE.parent, tmp_path / "fleet")
    inv = tmp_path / "fleet" / "inventory.yaml"
    res = run_invoke("validate", "-i", str(inv))
    assert res.returncode == 0, res.stderr
    notes = [line for line in res.stdout.splitlines() if "msticpy#842" in line]
    assert notes == [
        "note: tenants contoso, fabrikam: Azure.tenant_id is rendered and cli is among the auth "
        f"methods: the compute instances need msticpy {MSTICPY_CLI_TENANT_FIX} or later "
        "(earlier ones pass the tenant to AzureCliCredential, which fails where az is signed in "
        "with the instance's managed identity: microsoft/msticpy#842)"
    ]
    doc = json.loads(run_invoke("validate", "-i", str(inv), "--json").stdout)
    assert {t["tenant"]: t["msticpy_minimum"] for t in doc["tenants"]} == {
        "contoso": MSTICPY_CLI_TENANT_FIX,
        "fabrikam": MSTICPY_CLI_TENANT_FIX,
    }
    # without cli among the methods, nothing to say
    text = inv.read_text()
    assert "azure_auth_methods: [env, cli, msi]" in text
    inv.write_text(
        text.replace("azure_auth_methods: [env, cli, msi]", "azure_auth_methods: [env, msi]")
    )
    doc = json.loads(run_invoke("validate", "-i", str(inv), "--json").stdout)
    assert {t["tenant"]: t["msticpy_minimum"] for t in doc["tenants"]}["fabrikam"] is None
