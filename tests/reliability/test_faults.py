"""A fleet apply under throttling, server errors, dropped connections and jitter converges in ONE
run: exit 0, every secret and file correct (read back through the official SDK clients), no file
whose stored Content-MD5 disagrees with its bytes, at most one new secret version per change.

The fault profile is what Azure does to a busy fleet: about one request in five answered 503 or
429 with Retry-After (Key Vault and ARM throttle with 429; Azure Files throttles with 503
ServerBusy, and the storage SDK does not retry 429), 3 % of connections dropped before any answer,
and up to 20 ms of jitter on every request.

The retry probes pin the client settings the fleet run depends on, and fail within seconds:
without them the same fleet run takes minutes (the storage SDK's default first back-off is
15 s + 3^1 s) or ends with a tenant failed by an exhausted retry budget.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import AzureError
from reliability_helpers import (
    Reader,
    check_state,
    desired_state,
    md5_mismatches,
    seed_of,
)

from provision.azure import RETRY_TOTAL, Clients, load_endpoints_file
from provision.commands.apply import run as apply_command
from provision.commands.common import RunOptions
from provision.devtools.fleet import write_fleet
from provision.emulator import Emulator
from provision.emulator.seed import seed_tenants_from_inventory, storage_account_name
from provision.inventory.load import load_inventory
from provision.share import TEMP_MARK
from provision.workspace import CODE_SHARE, discover

# ~20 % of requests throttled or failing per service, 3 % resets, jitter (faults.py grammar).
PROFILE = ",".join(
    [
        "*:*=503@0.1",
        "keyvault:*=429(1)@0.111",
        "arm:*=429(1)@0.111",
        "files:*=503@0.111",
        "*:*=reset@0.03",
        "*:*=jitter@20",
    ]
)
FAULT_SEED = 7
FLEET_DEADLINE_S = 150.0
# A first storage retry later than this makes a throttled fleet crawl (Azure Files answers 503
# ServerBusy; every sequential step of a tenant pays the wait).
MAX_FIRST_RETRY_S = 5.0


@pytest.fixture
def probe_emu(tmp_path: Path) -> Iterator[tuple[Emulator, Any]]:
    """A one-tenant emulator and the tool's own Clients pointed at it."""
    fleet = write_fleet(tmp_path / "inv", 1, users=1)
    inv = load_inventory(fleet.path)
    with Emulator(tmp_path / "probe-emu") as emu:
        emu.seed(seed_tenants_from_inventory(inv))
        yield emu, inv


def _attempts(emu: Emulator, mark: int, op: str) -> list[dict[str, Any]]:
    return [r for r in emu.requests()[mark:] if r["op"] == op]


def _first_retry_gap(
    emu: Emulator, op: str, spec: str, call: Callable[[], Any], wait_s: float
) -> tuple[float | None, BaseException | None]:
    """Run `call` in a thread with `spec` injected; once a retry shows up (or `wait_s` passed),
    lift the faults. Return the gap between the first two attempts (None: no retry in time)."""
    mark = len(emu.requests())
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
            outcome.append(None)
        except BaseException as exc:  # reported to the test
            outcome.append(exc)

    emu.set_faults(spec)
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and len(_attempts(emu, mark, op)) < 2 and worker.is_alive():
        time.sleep(0.05)
    emu.set_faults(None)
    tries = _attempts(emu, mark, op)
    if len(tries) < 2:
        worker.join(0.5)  # a slow retry is abandoned (daemon thread)
        return None, outcome[0] if outcome else None
    worker.join(30)
    return tries[1]["ts"] - tries[0]["ts"], outcome[0] if outcome else None


def retry_probe_problems(emu: Emulator, inv: Any) -> list[str]:
    """What in the tool's retry settings keeps a throttled fleet from converging quickly."""
    problems: list[str] = []
    t = inv.tenants[0]
    clients = Clients(0, load_endpoints_file(emu.endpoints_file))
    try:
        # 1. Key Vault throttling: azure-core counts status retries separately (3 by default).
        emu.set_faults("keyvault:GetSecret=429(0.01)@1.0")
        mark = len(emu.requests())
        with contextlib.suppress(AzureError):
            clients.secrets(t, t.key_vault).get_secret("probe")
        emu.set_faults(None)
        tries = len(_attempts(emu, mark, "GetSecret"))
        if tries < RETRY_TOTAL + 1:
            problems.append(
                f"a throttled Key Vault request is tried {tries} times, not RETRY_TOTAL+1 = "
                f"{RETRY_TOTAL + 1} (azure-core's retry_status defaults to 3)"
            )
        # 2. Azure Files ServerBusy: the storage SDK's own policy and its first back-off.
        share = clients.share(
            t,
            storage_account_name(seed_of(t)),
            CODE_SHARE,
            emu.endpoints["storage_keys"][storage_account_name(seed_of(t))],
        )
        gap, _ = _first_retry_gap(
            emu,
            "GetShareProperties",
            "files:GetShareProperties=503@1.0",
            lambda: share.get_share_properties(),
            MAX_FIRST_RETRY_S,
        )
        if gap is None or gap > MAX_FIRST_RETRY_S:
            problems.append(
                "the storage client waits more than "
                f"{MAX_FIRST_RETRY_S:g} s before retrying a 503 ServerBusy "
                f"({'no retry within that time' if gap is None else f'{gap:.1f} s'}; "
                "the storage SDK's default first back-off is 15 s + 3 s)"
            )
        # 3. A dropped connection on ListWorkspaceKeys (a POST that only reads).
        gap, error = _first_retry_gap(
            emu,
            "ListWorkspaceKeys",
            "arm:ListWorkspaceKeys=reset@1.0",
            lambda: discover(clients, t),
            MAX_FIRST_RETRY_S,
        )
        if gap is None:
            problems.append(
                "listKeys is not retried after a dropped connection (azure-core does not retry "
                f"POST on connection errors): {error}"
            )
    finally:
        emu.set_faults(None)
        clients.close()
    return problems


def test_tool_clients_retry_throttling_and_dropped_connections(
    probe_emu: tuple[Emulator, Any],
) -> None:
    emu, inv = probe_emu
    problems = retry_probe_problems(emu, inv)
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_fleet_apply_converges_in_one_run_under_faults(
    tmp_path: Path, probe_emu: tuple[Emulator, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # Fail in seconds, not minutes, when the retry settings cannot make the run below converge.
    problems = retry_probe_problems(*probe_emu)
    assert not problems, "\n".join(problems)

    old = write_fleet(
        tmp_path / "inv", 10, users=2, variant="a", also_variants=("b",), secret_version="1"
    )
    inv = load_inventory(old.path)
    with Emulator(tmp_path / "emu", fault_seed=FAULT_SEED) as emu:
        emu.seed(seed_tenants_from_inventory(inv))
        opts = RunOptions(inventory=str(old.path), endpoints=str(emu.endpoints_file))
        assert apply_command(opts) == 0, capsys.readouterr()
        reader = Reader(emu.endpoints, emu.credential)
        versions_before = {k: reader.versions(*k) for k in desired_state(old.path).secrets}

        # Change every secret and every rendered user file, then apply under faults.
        new = write_fleet(
            tmp_path / "inv", 10, users=2, variant="b", also_variants=("a",), secret_version="2"
        )
        want = desired_state(new.path)
        emu.set_faults(PROFILE)
        started = time.monotonic()
        code = apply_command(RunOptions(inventory=str(new.path), endpoints=str(emu.endpoints_file)))
        took = time.monotonic() - started
        emu.set_faults(None)
        out = capsys.readouterr()
        injected = [r for r in emu.requests() if r.get("fault")]

        assert code == 0, f"apply under faults failed after {took:.0f} s:\n{out.out[-3000:]}"
        assert took < FLEET_DEADLINE_S, f"apply under faults took {took:.0f} s"
        assert len(injected) > 100, "the fault profile did not bite"
        assert check_state(reader, want) == []
        assert md5_mismatches(reader, sorted({a for a, _ in want.files})) == []
        for key in want.secrets:
            new_versions = reader.versions(*key) - versions_before[key]
            assert new_versions == 1, f"{key}: {new_versions} new versions for one change"
        for account in {account for account, _ in want.files}:
            for alias in ("u1", "u2"):
                names = reader.list_files(account, f"Users/{alias}")
                assert not [n for n in names if n.startswith(TEMP_MARK)], names
