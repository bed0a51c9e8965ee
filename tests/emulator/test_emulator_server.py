"""The emulator as a whole: endpoints.json, the request log, seeding, persistence across
restarts, clients in other processes, and `invoke emulator`'s run_emulator."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from emulator_helpers import TENANT
from support.clients import ml_client, secret_client, share_client

from provision.emulator import Emulator, EmulatorCredential, SeedTenant, seed_tenants_from_inventory
from provision.emulator.seed import NOTEBOOK_SHARE, storage_account_name, workspace_vault_name
from provision.errors import UserInputError

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "inventory.yaml"


def test_endpoints_file_describes_every_service(emu: Emulator) -> None:
    data = json.loads(emu.endpoints_file.read_text())
    assert data == emu.endpoints
    port = emu.port
    assert data["arm"] == f"https://127.0.0.1:{port}/_arm"
    assert data["keyvault"] == f"https://127.0.0.1:{port}/_kv/{{vault}}"
    assert data["files"] == f"https://127.0.0.1:{port}/{{account}}"
    assert Path(data["ca_cert"]) == emu.ca_cert.resolve() and emu.ca_cert.exists()
    assert data["token"] == emu.backend.token
    assert storage_account_name(TENANT) in data["storage_keys"]


def test_request_log_lines_have_the_documented_fields(emu: Emulator) -> None:
    secret_client(emu, TENANT.key_vault).set_secret("logged", "x")
    last = emu.requests()[-1]
    assert set(last) >= {"ts", "service", "method", "path", "status", "op"}
    assert (last["service"], last["method"], last["op"], last["status"]) == (
        "keyvault",
        "PUT",
        "SetSecret",
        200,
    )
    assert last["path"] == f"/_kv/{TENANT.key_vault}/secrets/logged"


def test_seeding_twice_changes_nothing_and_adds_new_tenants(emu: Emulator) -> None:
    before = emu.backend.to_dict()
    emu.seed([TENANT])
    assert emu.backend.to_dict() == before
    other = SeedTenant(
        tenant_id="0a0b0c0d-0000-4000-8000-00000000000a",
        subscription_id="0a0b0c0d-0000-4000-8000-00000000000b",
        resource_group="rg-other",
        workspace="ws-soc",
        key_vault=None,
        users=[("eve", "ci-eve")],
    )
    emu.seed([other])
    assert storage_account_name(other) != storage_account_name(TENANT)
    assert storage_account_name(other) in json.loads(emu.endpoints_file.read_text())["storage_keys"]
    ws = ml_client(emu, other.subscription_id).workspaces.get("rg-other", "ws-soc")
    assert ws.key_vault.endswith(f"/vaults/{workspace_vault_name(other)}")


def test_seed_rejects_an_invalid_vault_name(tmp_path: Path) -> None:
    bad = SeedTenant(
        tenant_id="t",
        subscription_id="s",
        resource_group="rg",
        workspace="ws",
        key_vault="-bad--name-",
    )
    with Emulator(tmp_path) as emu, pytest.raises(UserInputError) as exc:
        emu.seed([bad])
    assert "-bad--name-" in exc.value.lines()[0]


def test_seed_tenants_from_the_example_inventory() -> None:
    from provision.inventory.load import load_inventory

    inventory = load_inventory(EXAMPLE)
    tenants = seed_tenants_from_inventory(inventory)
    assert [t.tenant_id for t in tenants] == [t.tenant_id for t in inventory.tenants]
    first, source = tenants[0], inventory.tenants[0]
    assert (first.subscription_id, first.resource_group, first.workspace, first.key_vault) == (
        source.subscription_id,
        source.resource_group,
        source.ml_workspace,
        source.key_vault,
    )
    assert first.users == [(u.alias, u.compute) for u in source.users]


def test_state_survives_a_restart_on_the_same_folder(tmp_path: Path) -> None:
    with Emulator(tmp_path) as first:
        first.seed([TENANT])
        account = storage_account_name(TENANT)
        key = first.endpoints["storage_keys"][account]
        token, ca = first.backend.token, first.ca_cert.read_bytes()
        secret_client(first, TENANT.key_vault).set_secret("persisted", "across restarts")
        share_client(first, account, key).get_file_client("Users/alice/kept.txt").upload_file(
            b"still here"
        )
    with Emulator(tmp_path) as second:
        assert second.backend.token == token and second.ca_cert.read_bytes() == ca
        assert second.endpoints["storage_keys"][account] == key
        assert (
            secret_client(second, TENANT.key_vault).get_secret("persisted").value
            == "across restarts"
        )
        file = share_client(second, account, key).get_file_client("Users/alice/kept.txt")
        assert file.download_file().readall() == b"still here"
        assert ml_client(second, TENANT.subscription_id).workspaces.get(
            TENANT.resource_group, TENANT.workspace
        )


def test_state_is_saved_while_running(tmp_path: Path) -> None:
    with Emulator(tmp_path) as emu:
        emu.seed([TENANT])
        secret_client(emu, TENANT.key_vault).set_secret("early", "saved")
        deadline = time.monotonic() + 5
        while "early" not in (tmp_path / "state.json").read_text():
            assert time.monotonic() < deadline, "state.json was not refreshed"
            time.sleep(0.1)


def test_unknown_storage_account_fails_at_the_connection(emu: Emulator) -> None:
    client = share_client(emu, "nosuchaccount", "a2V5", retry_total=0)
    with pytest.raises((ServiceRequestError, ServiceResponseError)):
        client.get_share_properties()
    assert emu.requests()[-1]["error"] == "AccountNotFound"


def test_a_client_in_another_process_needs_only_endpoints_json(emu: Emulator) -> None:
    code = f"""
import json, sys
sys.path.insert(0, {str(REPO / "tests")!r})
from support.clients import secret_client
ep = json.load(open({str(emu.endpoints_file)!r}))
secret_client(ep, {TENANT.key_vault!r}).set_secret("from-outside", "hello")
"""
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)
    assert emu.requests()[-1]["op"] == "SetSecret"  # flushed by the time the client is done
    assert secret_client(emu, TENANT.key_vault).get_secret("from-outside").value == "hello"


def test_emulator_credential_answers_any_scope() -> None:
    cred = EmulatorCredential("tok")
    assert cred.get_token("https://vault.azure.net/.default").token == "tok"
    assert cred.get_token_info("https://storage.azure.com/.default").token == "tok"


def test_run_emulator_serves_until_sigterm(tmp_path: Path) -> None:
    code = (
        "import sys; from provision.emulator.cli import run_emulator; "
        f"sys.exit(run_emulator({str(tmp_path)!r}, seed_inventory={str(EXAMPLE)!r}, "
        "faults='keyvault:GetSecret=503@0.1', latency_ms=1))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        endpoints_file = tmp_path / "endpoints.json"
        deadline = time.monotonic() + 60
        while (
            not endpoints_file.exists()
            or not json.loads(endpoints_file.read_text())["storage_keys"]
        ):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.1)
        ep = json.loads(endpoints_file.read_text())
        secret_client(ep, "kv-contoso-nb").set_secret("via-cli", "ok")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert str(endpoints_file) in out and "emulator stopped" in out


def test_run_emulator_reports_a_bad_fault_spec(tmp_path: Path) -> None:
    from provision.emulator.cli import run_emulator

    with pytest.raises(UserInputError) as exc:
        run_emulator(str(tmp_path), faults="keyvault:*=503@2")
    assert exc.value.lines() == ["--faults: 'keyvault:*=503@2': probability 2 is outside 0..1"]


def test_the_notebooks_share_has_the_user_folders(emu: Emulator) -> None:
    account = storage_account_name(TENANT)
    share = share_client(emu, account, emu.endpoints["storage_keys"][account], NOTEBOOK_SHARE)
    users = share.get_directory_client("Users")
    assert sorted(e["name"] for e in users.list_directories_and_files()) == ["alice", "bob"]


def test_a_port_in_use_is_a_user_error(emu: Emulator, tmp_path: Path) -> None:
    with pytest.raises(UserInputError) as exc:
        Emulator(tmp_path, port=emu.port).start()
    assert exc.value.lines()[0].startswith(f"--port {emu.port}: cannot listen on 127.0.0.1")


def test_a_corrupt_state_file_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(UserInputError) as exc:
        Emulator(tmp_path)
    assert "state.json" in exc.value.lines()[0]
