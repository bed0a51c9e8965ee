"""endpoints.json is the emulator's readiness signal: it appears only once the server answers and
the seed is loaded, and it is gone before the server stops.

Each test plays a script that waits for the file: it polls every millisecond and, the moment the
file is there, uses what it says (a storage key of the last tenant seeded) with the official
ShareClient. Before this rule the file was written at start and the seed came after, so such a
script found no storage keys, or a vault or share that did not exist yet.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from azure.storage.fileshare import ShareClient
from support.clients import fast_storage_retry

from provision.devtools.fleet import write_fleet
from provision.emulator import Emulator, SeedTenant
from provision.emulator.seed import NOTEBOOK_SHARE, storage_account_name

REPO = Path(__file__).resolve().parents[2]
TENANTS = [
    SeedTenant(
        tenant_id=f"0f0e0d0c-0000-4000-8000-{i:012d}",
        subscription_id=f"0f0e0d0c-0000-4000-9000-{i:012d}",
        resource_group=f"rg-{i}",
        workspace=f"ws-{i}",
        key_vault=f"kv-ready-{i}",
        users=[("alice", f"ci-alice-{i}")],
    )
    for i in range(25)
]


def _wait_for(path: Path, timeout_s: float = 30.0) -> dict[str, Any]:
    """What a script does: poll for the file and read it as soon as it is there."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            return data
        except FileNotFoundError:
            time.sleep(0.001)
    raise AssertionError(f"{path} did not appear within {timeout_s} s")


def _use_it(endpoints: dict[str, Any], account: str) -> str:
    """One Files call with the key from the file; the share's name, or raises."""
    client = ShareClient(
        account_url=endpoints["files"].format(account=account),
        share_name=NOTEBOOK_SHARE,
        credential=endpoints["storage_keys"][account],
        connection_verify=endpoints["ca_cert"],
        retry_policy=fast_storage_retry(),
    )
    name: str = client.get_share_properties().name
    return name


def _port_refuses(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_endpoints_file_appears_seeded_and_goes_before_the_port(tmp_path: Path) -> None:
    emu = Emulator(tmp_path / "state")
    seen: dict[str, Any] = {}
    last = storage_account_name(TENANTS[-1])

    def script() -> None:
        endpoints = _wait_for(emu.endpoints_file)
        seen["accounts"] = sorted(endpoints["storage_keys"])
        seen["share"] = _use_it(endpoints, last)

    waiter = threading.Thread(target=script)
    waiter.start()
    emu.start(TENANTS)
    try:
        waiter.join(timeout=60)
        assert seen["accounts"] == sorted(storage_account_name(t) for t in TENANTS)
        assert seen["share"] == NOTEBOOK_SHARE
        assert json.loads(emu.endpoints_file.read_text())["pid"] == os.getpid()
    finally:
        emu.stop()
    assert not emu.endpoints_file.exists()
    assert _port_refuses(emu.port)


def test_a_file_left_by_a_killed_run_is_removed_at_start(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    stale = {"files": "https://127.0.0.1:9/{account}", "pid": 999999999}
    (state / "endpoints.json").write_text(json.dumps(stale))
    with Emulator(state).start(TENANTS[:1]) as emu:
        fresh = json.loads(emu.endpoints_file.read_text())
        assert fresh["files"] == f"https://127.0.0.1:{emu.port}/{{account}}"
        assert fresh["pid"] == os.getpid()


@pytest.mark.slow
def test_invoke_emulator_with_seed_is_ready_when_the_file_appears(tmp_path: Path) -> None:
    fleet = write_fleet(tmp_path / "inv", 20, users=1)
    state = tmp_path / "state"
    code = (
        "import sys; from provision.emulator.cli import run_emulator; "
        f"sys.exit(run_emulator({str(state)!r}, seed_inventory={str(fleet.path)!r}))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        endpoints = _wait_for(state / "endpoints.json")
        assert len(endpoints["storage_keys"]) == 20
        last = sorted(endpoints["storage_keys"])[-1]
        assert _use_it(endpoints, last) == NOTEBOOK_SHARE
        assert endpoints["pid"] == proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr.decode(errors="replace")
    assert not (state / "endpoints.json").exists()
    port = int(endpoints["files"].split(":")[2].split("/")[0])
    assert _port_refuses(port)
