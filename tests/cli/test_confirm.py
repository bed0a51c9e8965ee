"""On a terminal, apply and onboard show the plan and ask before changing anything; in a pipe (CI)
they apply as before. Tested through a pseudo-terminal (the standard library's `pty`), as an
admin's shell runs the console script."""

from __future__ import annotations

import os
import pty
import subprocess
import threading
import time
from pathlib import Path

import pytest
from support import BIN

from provision.emulator import Emulator
from provision.emulator.requestlog import is_write


class Terminal:
    """The console script on a pseudo-terminal (stdin and stdout), read as the user sees it."""

    def __init__(self, *args: str, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [str(BIN / "msticpy-provision"), *args],
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdin=slave,
            stdout=slave,
            stderr=slave,
            close_fds=True,
        )
        os.close(slave)
        self.screen = b""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # the other end closed
                return
            if not chunk:
                return
            self.screen += chunk

    def wait_for(self, text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while text.encode() not in self.screen:
            assert self.proc.poll() is None or text.encode() in self.screen, self.text
            assert time.monotonic() < deadline, self.text
            time.sleep(0.05)

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    def finish(self, timeout: float = 120) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(5)
        os.close(self.master)
        return code

    @property
    def text(self) -> str:
        return self.screen.decode(errors="replace").replace("\r\n", "\n")


def _writes_since(emu: Emulator, start: int) -> int:
    return sum(1 for r in emu.requests()[start:] if is_write(r))


@pytest.mark.parametrize("task", ["apply", "onboard"])
def test_no_on_a_terminal_changes_nothing(fleet: Path, emu: Emulator, task: str) -> None:
    start = len(emu.requests())
    term = Terminal(task, "-i", str(fleet), "-e", str(emu.endpoints_file), cwd=fleet.parent)
    term.wait_for("Apply? ")
    assert "create" in term.text  # the plan was shown first
    term.type("no")
    assert term.finish() == 1
    assert "Apply cancelled: nothing was changed." in term.text
    assert _writes_since(emu, start) == 0


def test_yes_on_a_terminal_applies_the_plan_shown(fleet: Path, emu: Emulator) -> None:
    term = Terminal("apply", "-i", str(fleet), "-e", str(emu.endpoints_file), cwd=fleet.parent)
    term.wait_for("Apply? ")
    start = len(emu.requests())
    term.type("yes")
    assert term.finish() == 0, term.text
    assert _writes_since(emu, start) > 0
    again = Terminal("apply", "-i", str(fleet), "-e", str(emu.endpoints_file), cwd=fleet.parent)
    assert again.finish() == 0
    assert "Nothing to apply." in again.text and "Apply? " not in again.text


def test_yes_on_a_terminal_applies_without_asking(fleet: Path, emu: Emulator) -> None:
    start = len(emu.requests())
    term = Terminal(
        "apply", "-i", str(fleet), "-e", str(emu.endpoints_file), "--yes", cwd=fleet.parent
    )
    assert term.finish() == 0, term.text
    assert "Apply? " not in term.text and _writes_since(emu, start) > 0


def test_a_run_without_a_terminal_applies_without_asking(fleet: Path, emu: Emulator) -> None:
    # CI runs apply with stdin and stdout not terminals (.github/workflows/onboard.yml)
    start = len(emu.requests())
    piped = subprocess.run(
        [str(BIN / "msticpy-provision"), "apply", "-i", str(fleet), "-e", str(emu.endpoints_file)],
        cwd=fleet.parent,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert piped.returncode == 0, piped.stdout + piped.stderr
    assert "Apply?" not in piped.stdout and _writes_since(emu, start) > 0


def test_json_on_a_terminal_needs_yes(fleet: Path, emu: Emulator) -> None:
    start = len(emu.requests())
    term = Terminal(
        "apply", "-i", str(fleet), "-e", str(emu.endpoints_file), "--json", cwd=fleet.parent
    )
    assert term.finish() == 1
    assert "error: --json on a terminal needs --yes" in term.text
    assert len(emu.requests()) == start


def test_local_on_a_terminal_does_not_ask(fleet: Path, tmp_path: Path) -> None:
    # --local runs against a throwaway emulator: the quick start stays one command
    term = Terminal(
        "onboard",
        "-i",
        str(fleet),
        "--local",
        cwd=fleet.parent,
        env={"MSTICPY_PROVISION_LOCAL_DIR": str(tmp_path / "local")},
    )
    assert term.finish() == 0, term.text
    assert "Apply? " not in term.text and "Applied:" in term.text
