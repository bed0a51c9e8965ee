"""Programs written exactly as for real Azure run against the emulator with nothing but
``source DIR/env.sh`` (issue 16, "Done when").

The programs live in ``tests/emulator/programs/``: no emulator imports, no
``verify_challenge_resource``, no ``connection_verify``, ``DefaultAzureCredential()`` with no
arguments, and the resource names and URLs a real user would pass as arguments. Each runs as
its own process under ``bash -c 'source DIR/env.sh && python PROGRAM ARGS'`` with the Azure
variables of the test's own environment removed, so only env.sh points it at the emulator.

Sources of the Azure behaviour the programs rely on:
- azure-identity ``_credentials/managed_identity.py``: IDENTITY_ENDPOINT + IDENTITY_HEADER select
  the App Service managed-identity protocol, which ``DefaultAzureCredential()`` tries before the
  developer credentials.
- Azure Files REST "Authorize with Microsoft Entra ID": OAuth callers send
  ``x-ms-file-request-intent: backup`` (``token_intent="backup"``); share and service operations
  accept tokens from version 2024-11-04.
- azure-ai-ml ``_azure_environments.py``: ``_get_default_cloud_name`` takes the cloud of
  ARM_CLOUD_METADATA_URL whose ``resourceManager`` the URL contains, and ``_get_cloud`` keeps
  its built-in endpoints for the names AzureCloud, AzureUSGovernment and AzureChinaCloud.
- Delete Share on a leased share without the lease id: 412 ``LeaseIdMissing`` (Azure Files REST
  "Delete Share", "Lease Share").
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from emulator_helpers import TENANT, log_since
from support.clients import share_client

from provision.emulator import Emulator
from provision.emulator.seed import NOTEBOOK_SHARE, storage_account_name
from provision.emulator.wire import NOT_EMULATED_CODE

PROGRAMS = Path(__file__).parent / "programs"
# Variables that would point a program somewhere else than env.sh does.
_FOREIGN = ("AZURE_", "AZUREML_", "IDENTITY_", "MSI_", "ARM_")
_FOREIGN_NAMES = {"REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """An emulator of its own: env.sh's managed identity is the first seeded tenant's admin."""
    emu = Emulator(tmp_path_factory.mktemp("dropin")).start([TENANT])
    try:
        yield emu
    finally:
        emu.stop()


def run_program(
    emu: Emulator, cwd: Path, program: str, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_FOREIGN) and k not in _FOREIGN_NAMES
    }
    return subprocess.run(
        [
            "bash",
            "-c",
            'source "$1" && shift && exec "$@"',
            "sh",
            emu.endpoints["env_file"],
            sys.executable,
            str(PROGRAMS / program),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=cwd,
        check=False,
    )


def lines_of(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.splitlines()


def vault_url(emu: Emulator) -> str:
    url: str = emu.endpoints["keyvault"].format(vault=TENANT.key_vault)
    return url


def account_url(emu: Emulator) -> str:
    url: str = emu.endpoints["files"].format(account=storage_account_name(TENANT))
    return url


def _code_of(path: Path) -> str:
    """A program's code without its docstring (which may say what it is for)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if ast.get_docstring(tree) is not None:
        tree.body = tree.body[1:]
    return ast.unparse(tree)


def test_programs_are_written_as_for_azure() -> None:
    programs = sorted(PROGRAMS.glob("*.py"))
    assert len(programs) >= 7
    for path in programs:
        code = _code_of(path)
        for word in (
            "provision",
            "emulator",
            "verify_challenge_resource",
            "connection_verify",
            "127.0.0.1",
            "localhost",
            "endpoints.json",
            "ca.pem",
        ):
            assert word not in code.lower(), (path.name, word)
        calls = code.count("DefaultAzureCredential(")
        assert calls >= 1 and calls == code.count("DefaultAzureCredential()"), path.name
        # Only the generated management client takes the endpoint as base_url, and it takes it
        # from the cloud metadata document named by ARM_CLOUD_METADATA_URL.
        if "base_url" in code:
            assert path.name == "ml_workspaces_mgmt.py"
            assert "ARM_CLOUD_METADATA_URL" in code and "resourceManager" in code


KEYVAULT_EXPECTED = [
    "get second text/plain soc",
    "versions 2",
    "listed True",
    "backup True",
    "deleted {name} True",
    "listed-deleted True",
    "recovered second",
    "purged True",
    "restored {name} second",
    "restored-versions 2",
]


@pytest.mark.parametrize("program", ["keyvault_secrets.py", "keyvault_secrets_async.py"])
def test_key_vault_secret_lifecycle(world: Emulator, tmp_path: Path, program: str) -> None:
    name = "dropin-" + program.removesuffix(".py").replace("_", "-")
    mark = len(world.requests())
    out = lines_of(run_program(world, tmp_path, program, vault_url(world), name))
    assert out == [line.format(name=name) for line in KEYVAULT_EXPECTED]
    log = log_since(world, mark)
    kv_ops = {e["op"] for e in log if e["service"] == "keyvault"}
    assert {
        "SetSecret",
        "GetSecret",
        "GetSecretVersions",
        "GetSecrets",
        "BackupSecret",
        "DeleteSecret",
        "GetDeletedSecret",
        "GetDeletedSecrets",
        "RecoverDeletedSecret",
        "PurgeDeletedSecret",
        "RestoreSecret",
    } <= kv_ops
    # Every Key Vault call that carried a token carried the managed identity's tenant.
    assert {e.get("tenant") for e in log if e["service"] == "keyvault" and e["status"] != 401} == {
        TENANT.tenant_id
    }
    assert any(e["op"] == "GetManagedIdentityToken" for e in log)


FILES_EXPECTED = [
    "service-metrics True 7",
    "service-cors https://notebooks.example.org 600",
    "share-properties 20 Cool",
    "download version one",
    "listing ['summary.txt']",
    "snapshot-read version one version two",
    "snapshots-listed 1 2",
    "copy-status success",
    "copy-content version two",
    "copy-status-2 success",
    "copy-content-2 version two",
    "lease leased 5e4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a",
    "delete-leased 412 LeaseIdMissing",
    "broken-in 0",
    "lease-after-break broken",
    "shares-left []",
]


@pytest.mark.parametrize("program", ["files_share.py", "files_share_async.py"])
def test_files_share_round_trip(world: Emulator, tmp_path: Path, program: str) -> None:
    share = "dropin-" + program.removesuffix(".py").replace("_", "-")
    mark = len(world.requests())
    out = lines_of(run_program(world, tmp_path, program, account_url(world), share))
    assert out == FILES_EXPECTED
    log = [e for e in log_since(world, mark) if e["service"] == "files"]
    assert {
        "SetServiceProperties",
        "GetServiceProperties",
        "CreateShare",
        "SetShareProperties",
        "GetShareProperties",
        "CreateDirectory",
        "CreateFile",
        "PutRange",
        "GetFile",
        "ListFilesAndDirectories",
        "SnapshotShare",
        "ListShares",
        "CopyFile",
        "LeaseShare",
        "DeleteShare",
    } <= {e["op"] for e in log}
    # All of it with the managed identity's token (bearer, backup intent), none with a key.
    assert {e.get("tenant") for e in log} == {TENANT.tenant_id}


def test_ml_listing_through_azure_mgmt_machinelearningservices(
    world: Emulator, tmp_path: Path
) -> None:
    computes = sorted(compute for _, compute in TENANT.users)
    result = run_program(
        world,
        tmp_path,
        "ml_workspaces_mgmt.py",
        TENANT.subscription_id,
        TENANT.resource_group,
        TENANT.workspace,
    )
    assert lines_of(result) == [
        f"sync-subscription ['{TENANT.workspace}']",
        f"sync-group ['{TENANT.workspace}']",
        f"sync-workspace {TENANT.workspace} {TENANT.location}",
        f"sync-computes {computes}",
        f"sync-compute {computes[0]} ComputeInstance Running",
        f"async-subscription ['{TENANT.workspace}']",
        f"async-workspace {TENANT.workspace} {TENANT.location}",
        f"async-computes {computes}",
    ]


def test_ml_listing_through_azure_ai_ml(world: Emulator, tmp_path: Path) -> None:
    # MLClient finds the emulator's Resource Manager through ARM_CLOUD_METADATA_URL alone, and
    # asks for a token of that Resource Manager's own URL (``_resource_to_scopes``).
    computes = sorted(compute for _, compute in TENANT.users)
    mark = len(world.requests())
    result = run_program(
        world,
        tmp_path,
        "ml_workspaces_azure_ai_ml.py",
        TENANT.subscription_id,
        TENANT.resource_group,
        TENANT.workspace,
    )
    assert lines_of(result) == [
        f"workspaces ['{TENANT.workspace}']",
        f"workspace {TENANT.workspace} {TENANT.location} True",
        f"computes {computes}",
        f"compute {computes[0]} computeinstance True",
        "datastores ['workspacefilestore', 'workspaceworkingdirectory']",
    ]
    arm_ops = [e["op"] for e in log_since(world, mark) if e["service"] == "arm"]
    assert {"GetCloudMetadata", "ListWorkspaces", "GetWorkspace", "ListComputes"} <= set(arm_ops)
    assert "GetCompute" in arm_ops and "ListDatastores" in arm_ops


@pytest.mark.parametrize(
    ("step", "operation"),
    [
        ("file-handles", "ListHandles"),
        ("share-access-policy", "GetShareACL"),
        ("ml-jobs", "/workspaces/{ws}/jobs"),
    ],
)
def test_an_operation_not_emulated_fails_with_501(
    world: Emulator, tmp_path: Path, step: str, operation: str
) -> None:
    if step == "ml-jobs":
        args = [TENANT.subscription_id, TENANT.resource_group, TENANT.workspace]
    elif step == "file-handles":
        # A file that exists: Azure would list its (here: no) open handles.
        share_client(world, storage_account_name(TENANT)).get_file_client(
            "Users/alice/notes.txt"
        ).upload_file(b"notes")
        args = [account_url(world), NOTEBOOK_SHARE, "Users/alice/notes.txt"]
    else:
        args = [account_url(world), NOTEBOOK_SHARE]
    operation = operation.format(ws=TENANT.workspace)
    mark = len(world.requests())
    result = run_program(world, tmp_path, "not_emulated.py", step, *args)
    assert result.returncode == 1
    assert result.stdout == ""
    assert NOT_EMULATED_CODE in result.stderr and operation in result.stderr
    assert "does not implement" in result.stderr
    refused = [e for e in log_since(world, mark) if e["status"] == 501]
    assert len(refused) == 1, refused
    assert refused[0]["error"] == NOT_EMULATED_CODE and operation in refused[0]["op"]


def test_metadata_cloud_is_not_named_as_a_public_cloud(world: Emulator) -> None:
    # azure-ai-ml's _get_cloud answers its built-in endpoints for these names without reading
    # the document, and azure-cli replaces AzureCloud's login endpoint with Entra ID's.
    clouds = requests.get(world.endpoints["cloud_metadata"], verify=str(world.ca_cert), timeout=10)
    names = [cloud["name"] for cloud in clouds.json()]
    assert len(names) == 1
    assert names[0] not in {"AzureCloud", "AzureUSGovernment", "AzureChinaCloud"}
