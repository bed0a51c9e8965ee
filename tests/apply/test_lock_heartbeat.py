"""The tenant lock lives as long as its holder: a heartbeat keeps it, only a silent one is broken.

Azure Files leases on files are infinite until released or broken (Azure Files REST, "Lease
File": `x-ms-lease-duration` must be -1), so liveness is ours to track: the holder renews a
`heartbeat` in the lock file's metadata, and another run breaks the lease only when that
heartbeat is older than the stale bound (or the holder's process is gone on the same host).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.storage.fileshare import ShareClient

from provision.emulator import Emulator, SeedTenant
from provision.emulator.seed import NOTEBOOK_SHARE, storage_account_name
from provision.lock import LockHeld, LockPolicy
from provision.share import WorkspaceShare, lock_path, state_folder

TENANT = SeedTenant(
    tenant_id="11111111-2222-3333-4444-555555555555",
    subscription_id="aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
    resource_group="rg-lock",
    workspace="mlw-lock",
    key_vault="kv-lock",
    users=[("alice", "alice-ci")],
)


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[Emulator]:
    with Emulator(tmp_path / "emu") as e:
        e.seed([TENANT])
        yield e


def _share(emu: Emulator, policy: LockPolicy) -> WorkspaceShare:
    account = storage_account_name(TENANT)
    client = ShareClient(
        account_url=emu.endpoints["files"].format(account=account),
        share_name=NOTEBOOK_SHARE,
        credential=emu.endpoints["storage_keys"][account],
        connection_verify=str(emu.ca_cert),
    )
    share = WorkspaceShare(client, tenant="lock")
    share.lock_policy = policy
    return share


def _other_host(**timing: float) -> LockPolicy:
    # A holder on another machine: its pid cannot be checked from here, only its heartbeat.
    return LockPolicy(host="build-agent-7", pid=999_999, **timing)


def test_a_long_running_holder_on_another_host_is_never_broken_into(emu: Emulator) -> None:
    timing = {"heartbeat_every": 0.2, "stale_after": 1.0}
    holder = _share(emu, _other_host(**timing))
    other = _share(emu, LockPolicy(**timing))
    refused = 0
    with holder.locked("ci@agent-7"):
        deadline = time.monotonic() + 3.5  # three and a half stale bounds
        while time.monotonic() < deadline:
            with pytest.raises(LockHeld) as held, other.locked("admin@laptop"):
                pass
            assert "locked by ci@agent-7 (pid 999999 on build-agent-7)" in str(held.value)
            refused += 1
            time.sleep(0.3)
    assert refused >= 8
    with other.locked("admin@laptop"):  # released by its holder: free at once
        pass


def test_a_holder_whose_heartbeat_stopped_is_broken_and_named(
    emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    timing = {"heartbeat_every": 0.2, "stale_after": 1.0}
    dead = _share(emu, _other_host(**timing))
    lock = dead.share.get_file_client(lock_path("lock"))
    # Take the lock as a holder that then dies without releasing it (no heartbeat thread).
    dead.ensure_folder(state_folder("lock"))
    lock.create_file(0)
    lease = lock.acquire_lease()
    lock.set_file_metadata(dead.lock_policy.metadata("ci@agent-7"), lease=lease)
    other = _share(emu, LockPolicy(**timing))
    with pytest.raises(LockHeld), other.locked("admin@laptop"):  # fresh: still alive
        pass
    time.sleep(1.3)
    with caplog.at_level("WARNING"), other.locked("admin@laptop"):
        info = lock.get_file_properties().metadata
        assert info["holder"] == "admin@laptop"
    assert "breaking a stale tenant lock (its last heartbeat is" in caplog.text
    assert "ci@agent-7" in caplog.text


def test_the_heartbeat_advances_while_the_lock_is_held(emu: Emulator) -> None:
    share = _share(emu, LockPolicy(heartbeat_every=0.2, stale_after=60))
    lock = share.share.get_file_client(lock_path("lock"))
    seen: list[str] = []
    with share.locked("admin@laptop"):
        for _ in range(4):
            seen.append(lock.get_file_properties().metadata["heartbeat"])
            time.sleep(0.5)
    assert len(set(seen)) == 4, seen
    assert seen == sorted(seen)


def test_a_lock_released_from_another_thread_is_taken_by_a_waiting_run(emu: Emulator) -> None:
    share = _share(emu, LockPolicy(heartbeat_every=0.2, stale_after=30))
    waiter = _share(emu, LockPolicy(heartbeat_every=0.2, stale_after=30))
    release = threading.Event()

    def hold() -> None:
        with share.locked("first"):
            release.wait(5)

    t = threading.Thread(target=hold)
    t.start()
    time.sleep(0.5)
    threading.Timer(1.0, release.set).start()
    with waiter.locked("second", timeout=10):
        pass
    t.join()


def _foreign_lease(share: WorkspaceShare) -> None:
    """A lease as any workspace user can take one: no holder record, never released."""
    lock = share.share.get_file_client(lock_path("lock"))
    share.ensure_folder(state_folder("lock"))
    lock.create_file(0)
    lock.acquire_lease()


def test_a_lease_this_tool_did_not_take_is_refused_at_once(emu: Emulator) -> None:
    share = _share(emu, LockPolicy())
    _foreign_lease(share)
    assert share.foreign_lock()
    started = time.monotonic()
    with pytest.raises(LockHeld) as held, share.locked("admin@laptop", timeout=30):
        pass
    assert time.monotonic() - started < 10  # not waited for: it will never be released
    assert "held by something other than this tool" in str(held.value)
    assert "--break-lock" in str(held.value)


def test_break_lock_takes_a_lease_this_tool_did_not_take(emu: Emulator) -> None:
    share = _share(emu, LockPolicy())
    _foreign_lease(share)
    with share.locked("admin@laptop", break_foreign=True):
        info = share.share.get_file_client(lock_path("lock")).get_file_properties().metadata
        assert info["holder"] == "admin@laptop"
        assert not share.foreign_lock()  # our own lease, with our holder record
