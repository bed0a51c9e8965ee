"""One read/write rule: `requestlog.is_write` classifies every operation the emulator routes, the
benchmark counts with that very function, and what it calls a read changes nothing.

Reads served over a writing method (POST): ARM's listKeys actions (RBAC `.../listKeys/action`,
which the built-in Reader role lacks but which change nothing) and Key Vault's BackupSecret
(returns a protected blob of the secret; REST spec keyvault/data-plane BackupSecret).
"""

from __future__ import annotations

from azure.core.rest import HttpRequest
from azure.keyvault.secrets import SecretClient
from azure.mgmt.machinelearningservices import MachineLearningServicesMgmtClient
from emulator_helpers import TENANT, log_since, unique

import provision.devtools.bench as bench
from provision.devtools.bench import Phase
from provision.emulator import Emulator, requestlog
from provision.emulator.arm import urls as arm_urls
from provision.emulator.files import urls as files_urls
from provision.emulator.keyvault import urls as keyvault_urls
from provision.emulator.requestlog import is_write
from provision.emulator.seed import storage_account_name

KEYVAULT_WRITES = {
    "SetSecret",
    "UpdateSecret",
    "DeleteSecret",
    "RestoreSecret",
    "RecoverDeletedSecret",
    "PurgeDeletedSecret",
}
FILES_WRITES = {
    "CreateShare",
    "DeleteShare",
    "SetShareMetadata",
    "CreateDirectory",
    "DeleteDirectory",
    "SetDirectoryMetadata",
    "SetDirectoryProperties",
    "RenameDirectory",
    "CreateFile",
    "PutRange",
    "SetFileProperties",
    "SetFileMetadata",
    "DeleteFile",
    "RenameFile",
    "LeaseFile",
    "CopyFile",
    "SetShareProperties",
    "SnapshotShare",
    "LeaseShare",
    "SetServiceProperties",
}


def _routes() -> dict[str, set[tuple[str, str]]]:
    """service -> {(method, operation)} from the three services' route tables."""
    return {
        "keyvault": {(m, op) for m, _, op in keyvault_urls.ROUTES},
        "arm": {(m, op) for m, _, op in arm_urls.ROUTES},
        "files": {(m, op) for (_, _, _, m), op in files_urls._TABLE.items()}
        | {("PUT", op) for op in files_urls._BY_HEADER.values() if op in files_urls.OPERATIONS},
    }


def test_every_routed_operation_is_classified_by_the_one_rule() -> None:
    routes = _routes()
    tables = {
        "keyvault": keyvault_urls.OPERATIONS,
        "arm": arm_urls.OPERATIONS,
        "files": files_urls.OPERATIONS,
    }
    for service, ops in tables.items():
        assert {op for _, op in routes[service]} == set(ops), service
    writes = {
        service: {op for method, op in pairs if is_write({"method": method, "op": op})}
        for service, pairs in routes.items()
    }
    assert writes["keyvault"] == KEYVAULT_WRITES
    assert writes["files"] == FILES_WRITES
    # ARM: a write exactly when the operation needs a write or delete permission (its RBAC
    # action, as the emulator's AuthorizationFailed messages name it), or is a POST action that
    # changes the resource (updateIdleShutdownSetting; listKeys/action only reads).
    changing_actions = {"UpdateIdleShutdownSetting"}
    assert writes["arm"] == {
        op
        for op, action in arm_urls.ACTIONS.items()
        if action.endswith(("/write", "/delete")) or op in changing_actions
    }
    # An operation is read or written whatever method carries it (HEAD and GET alike).
    for service, pairs in routes.items():
        kinds: dict[str, set[bool]] = {}
        for method, op in pairs:
            kinds.setdefault(op, set()).add(is_write({"method": method, "op": op}))
        assert all(len(k) == 1 for k in kinds.values()), (service, kinds)


def test_the_bench_counts_with_the_request_logs_rule() -> None:
    assert bench.count_reads_writes is requestlog.count_reads_writes
    entries = [
        {"method": "POST", "op": "BackupSecret"},
        {"method": "POST", "op": "ListStorageAccountKeys"},
        {"method": "PUT", "op": "LeaseFile"},
        {"method": "GET", "op": "GetSecret", "status": 401},
    ]
    phase = Phase(wall_s=0.0, cpu_s=0.0, entries=entries)
    assert (phase.reads, phase.writes) == (3, 1)
    assert phase.writes == sum(is_write(e) for e in entries)


def test_reads_over_post_change_nothing_and_count_as_reads(
    emu: Emulator, kv: SecretClient, ml: MachineLearningServicesMgmtClient
) -> None:
    """Over a recorded log: every request the rule calls a read leaves the world as it was, and
    the benchmark's counts of the same log agree with the emulator's rule."""
    name = unique("rule")
    mark = len(emu.requests())
    revision = emu.backend.revision
    kv.set_secret(name, "v1")
    assert emu.backend.revision > revision
    written = log_since(emu, mark)
    # A new client's first PUT carries no token and is answered 401 (the auth challenge); it was
    # sent to change state too, so every PUT counts as a write.
    assert {e["op"] for e in written} == {"SetSecret"} and written[-1]["status"] == 200
    assert Phase(0.0, 0.0, written).writes == len(written) == sum(is_write(e) for e in written)

    mark, revision = len(emu.requests()), emu.backend.revision
    kv.backup_secret(name)
    kv.get_secret(name)
    ml.workspaces.list_keys(TENANT.resource_group, TENANT.workspace)
    account = storage_account_name(TENANT)
    listed = ml._send_request(
        HttpRequest(
            "POST",
            f"/subscriptions/{TENANT.subscription_id}/resourceGroups/{TENANT.resource_group}"
            f"/providers/Microsoft.Storage/storageAccounts/{account}/listKeys"
            "?api-version=2023-05-01",
        )
    )
    assert listed.status_code == 200
    read = log_since(emu, mark)
    assert {"BackupSecret", "GetSecret", "ListWorkspaceKeys", "ListStorageAccountKeys"} <= {
        e["op"] for e in read
    }
    assert emu.backend.revision == revision  # nothing changed
    assert not any(is_write(e) for e in read)
    phase = Phase(0.0, 0.0, read)
    assert (phase.reads, phase.writes) == (len(read), 0)
