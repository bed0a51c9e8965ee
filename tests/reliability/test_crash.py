"""kill -9 at any moment of an apply: readers never see a partial file, and a rerun converges.

The design under test (provision/share.py): every upload goes to a temporary file in the same
folder (created with its Content-MD5) and is then renamed server-side over the final name, so a
reader of a user file sees the old content or the new one, never a truncated or mixed one. A crash
leaves at most a temporary file, which the next run deletes. The per-tenant lock is a lease whose
metadata names the holder; a holder that is dead (same host, pid gone) is broken by the next run,
so a killed apply never blocks the rerun.

The trials alternate between two inventories whose rendered files differ (the default Sentinel
workspace's name, which msticpyconfig.yaml and config.json carry) and whose secret values differ,
so every trial changes every file and secret; the emulator runs in another process, as Azure
would, and a reader thread keeps downloading every user file throughout.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from reliability_helpers import Desired, Reader, check_state, desired_state
from support import BIN, REPO, run_invoke
from support.clients import emulator_credential

from provision.commands.common import RunOptions
from provision.devtools.emulator_process import EmulatorProcess
from provision.devtools.fleet import Fleet, write_fleet
from provision.share import STATE_DIR, TEMP_MARK, lock_path

TRIALS = 20
TRIAL_SEED = 20240611


@pytest.fixture
def inventories(tmp_path: Path) -> tuple[Fleet, Fleet]:
    """Two inventories of the same 2 tenants x 2 users whose files and secrets all differ."""
    folder = tmp_path / "inv"
    a = write_fleet(
        folder,
        2,
        users=2,
        variant="a",
        also_variants=("b",),
        secret_version="1",
        name="a.yaml",
        secrets_dir="sec-a",
    )
    b = write_fleet(
        folder,
        2,
        users=2,
        variant="b",
        also_variants=("a",),
        secret_version="2",
        name="b.yaml",
        secrets_dir="sec-b",
    )
    return a, b


@pytest.fixture
def emulator_process(tmp_path: Path, inventories: tuple[Fleet, Fleet]) -> Iterator[EmulatorProcess]:
    """`invoke emulator --seed INV` in its own process (kill -9 of the apply cannot touch it)."""
    # Slow range uploads widen the window between a temporary file's creation and its rename,
    # so that random kills land in it often enough to be tested.
    with EmulatorProcess(
        tmp_path / "emu",
        inventories[0].path,
        latency_ms=10,
        faults="files:PutRange=latency@150",
        cwd=REPO,
        start_timeout_s=30,
    ) as emu:
        yield emu


@dataclass
class ContentWatch:
    """A thread that keeps downloading every user file and checks each full download."""

    reader: Reader
    allowed: dict[tuple[str, str], set[bytes]]
    stop: threading.Event = field(default_factory=threading.Event)
    downloads: int = 0
    violations: list[str] = field(default_factory=list)
    _seen: set[tuple[str, str]] = field(default_factory=set)

    def run(self) -> None:
        while not self.stop.is_set():
            for key, ok in self.allowed.items():
                try:
                    got = self.reader.download(*key)
                except Exception as exc:  # the emulator is local: any error is a finding
                    self.violations.append(f"{key}: download failed: {exc!r}")
                    continue
                self.downloads += 1
                if got is None:
                    if key in self._seen:
                        self.violations.append(f"{key}: vanished after it existed")
                elif got not in ok:
                    self.violations.append(f"{key}: {len(got)} bytes, neither old nor new content")
                else:
                    self._seen.add(key)
            time.sleep(0.01)


def _apply(inv: Path, endpoints: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(BIN / "invoke"), "apply", "-i", str(inv), "--endpoints", str(endpoints)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _leftovers(reader: Reader, want: Desired) -> list[str]:
    """Temporary files in the user folders (a rerun must have removed them)."""
    out = []
    for account, path in want.files:
        folder = path.rpartition("/")[0]
        out += [
            f"{account}/{folder}/{n}"
            for n in reader.list_files(account, folder)
            if n.startswith(TEMP_MARK)
        ]
    return sorted(set(out))


def _held_by(reader: Reader, account: str, pid: int) -> bool:
    """Is the tenant's lock leased, with metadata naming `pid` as the holder?"""
    try:
        share = reader.share(account)
        tenants = [
            i["name"] for i in share.get_directory_client(STATE_DIR).list_directories_and_files()
        ]
        for tenant in tenants:
            props = share.get_file_client(lock_path(tenant)).get_file_properties()
            meta = props.metadata or {}
            if props.lease.state == "leased" and meta.get("pid") == str(pid):
                return True
    except Exception:
        return False
    return False


@pytest.mark.slow
def test_kill_9_at_random_moments_never_exposes_partial_files_and_reruns_converge(
    inventories: tuple[Fleet, Fleet], emulator_process: EmulatorProcess
) -> None:
    a, b = inventories
    wants = {a.path: desired_state(a.path), b.path: desired_state(b.path)}
    ep = emulator_process.endpoints()
    reader = Reader(ep, emulator_credential(ep))
    allowed: dict[tuple[str, str], set[bytes]] = {}
    for want in wants.values():
        for key, content in want.files.items():
            allowed.setdefault(key, set()).add(content)
    changing = [path for (_, path), v in allowed.items() if len(v) == 2]
    assert len(changing) == 8, "msticpyconfig.yaml and config.json of every user must differ"
    accounts = sorted({account for account, _ in allowed})

    watch = ContentWatch(reader, allowed)
    watcher = threading.Thread(target=watch.run, daemon=True)
    watcher.start()
    try:
        # Two undisturbed applies: A creates the world; A -> B is a trial's change, and gives the
        # span to draw kill moments from: its first to its last request to Azure, measured from
        # the process's start.
        first = _apply(a.path, emulator_process.endpoints_file)
        assert first.wait(120) == 0, first.stderr.read() if first.stderr else ""
        mark = len(_log(emulator_process))
        started = time.time()
        second = _apply(b.path, emulator_process.endpoints_file)
        assert second.wait(120) == 0, second.stderr.read() if second.stderr else ""
        duration = time.time() - started
        sent = [r for r in _log(emulator_process)[mark:] if r["op"] != "GetFile"]  # not the reader
        span = (sent[0]["ts"] - started, sent[-1]["ts"] - started)
        # Where temporary files exist: from the first range upload to the last rename. Every
        # third trial draws its moment from there, so that a loaded machine (whose applies start
        # later and run longer than the measured one) still lands kills in that window.
        uploads = [r["ts"] - started for r in sent if r["op"] in ("PutRange", "RenameFile")]
        upload_span = (min(uploads), max(uploads))
        assert check_state(reader, wants[b.path]) == []

        rng = random.Random(TRIAL_SEED)
        killed_with_lock = killed_with_temp = killed_after_exit = 0
        for trial in range(TRIALS):
            inv = a.path if trial % 2 == 0 else b.path
            want = wants[inv]
            delay = rng.uniform(*(upload_span if trial % 3 == 2 else span))
            proc = _apply(inv, emulator_process.endpoints_file)
            time.sleep(delay)
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            else:
                killed_after_exit += 1
            proc.wait(30)
            killed_with_lock += any(_held_by(reader, acct, proc.pid) for acct in accounts)
            killed_with_temp += bool(_leftovers(reader, want))

            rerun = run_invoke(
                "apply", "-i", str(inv), "--endpoints", str(emulator_process.endpoints_file)
            )
            assert rerun.returncode == 0, (
                f"trial {trial} (killed after {delay:.2f} s): rerun failed\n{rerun.stdout}"
                f"\n{rerun.stderr}"
            )
            verify = run_invoke(
                "verify", "-i", str(inv), "--endpoints", str(emulator_process.endpoints_file)
            )
            assert verify.returncode == 0, f"trial {trial}: verify failed\n{verify.stdout}"
            assert check_state(reader, want) == [], f"trial {trial}"
            assert _leftovers(reader, want) == [], f"trial {trial}"
            # A lock the killed run left is broken by the first later run that needs it (a rerun
            # with nothing left to change takes no lock), so it may still be held here.
    finally:
        watch.stop.set()
        watcher.join(30)

    print(
        f"\n{TRIALS} kills {span[0]:.2f}-{span[1]:.2f} s into {duration:.2f} s applies: "
        f"{killed_with_lock} left a held lock, "
        f"{killed_with_temp} left a temporary file, {killed_after_exit} came after the exit; "
        f"{watch.downloads} concurrent downloads",
        file=sys.stderr,
    )
    assert watch.violations == []
    assert watch.downloads > 100
    # The trials must have exercised what they claim to.
    assert killed_with_lock >= 2, "no kill landed while the lock was held"
    assert killed_with_temp >= 1, "no kill landed between a temporary upload and its rename"


def _log(emu: EmulatorProcess) -> list[dict[str, Any]]:
    return emu.log_since(0)


# --- crashes at chosen points ------------------------------------------------------------------

# Runs `invoke apply ...` after making provision.lock.LockPolicy.metadata kill the process
# (SIGKILL, as kill -9) when it is called while the tenant's lock is leased: the moment between
# taking the lease and recording who holds it. The SDK is only used to look at the lock.
CRASH_AFTER_LEASE = """
import json, os, signal, sys
from azure.core.exceptions import ResourceNotFoundError
import provision.share as share
from provision.lock import LockPolicy
from provision.workspace import CODE_SHARE

tests_dir, endpoints_file, account, *argv = sys.argv[1:]
sys.path.insert(0, tests_dir)
from support.clients import share_client

ep = json.load(open(endpoints_file))
lock = share_client(ep, account, share=CODE_SHARE).get_file_client(share.lock_path("t001"))
real = LockPolicy.metadata

def leased():
    try:
        return lock.get_file_properties().lease.state == "leased"
    except ResourceNotFoundError:  # the lock file is not made yet
        return False

def crash_when_leased(self, holder, acquired=None):
    if leased():
        os.kill(os.getpid(), signal.SIGKILL)
    return real(self, holder, acquired)

LockPolicy.metadata = crash_when_leased
from invoke import Program
from provision.tasks import ns
Program(namespace=ns).run(["invoke", *argv])
"""


def test_kill_between_taking_the_lock_and_naming_the_holder_does_not_block_reruns(
    tmp_path: Path,
) -> None:
    fleet = write_fleet(tmp_path / "inv", 1, users=1)
    want = desired_state(fleet.path)
    (account,) = {account for account, _ in want.files}
    from provision.emulator import Emulator
    from provision.emulator.seed import seed_tenants_from_inventory
    from provision.inventory.load import load_inventory

    with Emulator(tmp_path / "emu") as emu:  # a fresh world: the lock file does not exist yet
        emu.seed(seed_tenants_from_inventory(load_inventory(fleet.path)))
        crashed = subprocess.run(
            [
                sys.executable,
                "-c",
                CRASH_AFTER_LEASE,
                str(REPO / "tests"),
                str(emu.endpoints_file),
                account,
                "apply",
                "-i",
                str(fleet.path),
                "--endpoints",
                str(emu.endpoints_file),
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert crashed.returncode == -signal.SIGKILL, crashed.stderr
        reader = Reader(emu.endpoints, emu.credential)
        props = reader.share(account).get_file_client(lock_path("t001")).get_file_properties()
        assert props.lease.state == "leased"  # the killed run left its lock behind

        rerun = run_invoke("apply", "-i", str(fleet.path), "--endpoints", str(emu.endpoints_file))
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        assert check_state(reader, want) == []


@pytest.mark.parametrize("folder", ["Users/u1", f"{STATE_DIR}/t001"])
def test_rerun_deletes_temporary_files_a_killed_run_left(tmp_path: Path, folder: str) -> None:
    """A run killed between a temporary upload and its rename leaves the temporary file; the
    next run that changes anything deletes it (user files and the manifest are both uploaded
    that way)."""
    from provision.emulator import Emulator
    from provision.emulator.seed import seed_tenants_from_inventory
    from provision.inventory.load import load_inventory

    a = write_fleet(tmp_path / "inv", 1, users=1, variant="a", also_variants=("b",), name="a.yaml")
    b = write_fleet(tmp_path / "inv", 1, users=1, variant="b", also_variants=("a",), name="b.yaml")
    (account,) = {account for account, _ in desired_state(a.path).files}
    with Emulator(tmp_path / "emu") as emu:
        emu.seed(seed_tenants_from_inventory(load_inventory(a.path)))
        opts = RunOptions(inventory=str(a.path), endpoints=str(emu.endpoints_file))
        from provision.commands.apply import run as apply_command

        assert apply_command(opts) == 0
        reader = Reader(emu.endpoints, emu.credential)
        name = "state.json" if folder.startswith(STATE_DIR) else "msticpyconfig.yaml"
        left = f"{folder}/{TEMP_MARK}0123456789ab-{name}"
        reader.share(account).get_file_client(left).upload_file(b"half of a")
        assert (
            apply_command(RunOptions(inventory=str(b.path), endpoints=str(emu.endpoints_file))) == 0
        )
        assert TEMP_MARK + "0123456789ab-" + name not in reader.list_files(account, folder)
