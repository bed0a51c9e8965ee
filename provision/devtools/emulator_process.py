"""The emulator in a child process, as `invoke emulator` runs it: the one way the benchmark, the
reliability tests and the throughput script start it.

A separate process does not share the client's GIL, and a kill -9 of the client cannot touch it
(as with Azure). The child runs `provision.emulator.cli.run_emulator` with this process's
interpreter and the `provision` package this process imported; it is ready once it prints
'serving' (seeded, endpoints.json written).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from provision.errors import ProvisionError

__all__ = ["EmulatorProcess", "EmulatorStartError", "child_env", "project_root"]

START_TIMEOUT_S = 90.0


class EmulatorStartError(ProvisionError):
    """The emulator's child process exited or stayed silent before it served."""


def project_root() -> Path:
    """The folder holding the `provision` package this process imported (and tasks.py)."""
    return Path(__file__).resolve().parents[2]


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment, with the project on PYTHONPATH and no CI step summary, plus `extra`."""
    env = dict(os.environ)
    root = str(project_root())
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    env.pop("GITHUB_STEP_SUMMARY", None)
    env.update(extra or {})
    return env


class EmulatorProcess:
    """`run_emulator` in a child process. Always stopped by `stop` (SIGTERM, then SIGKILL), also
    on errors and Ctrl-C; usable as a context manager.

    `seed`, `latency_ms`, `faults`, `fault_seed` and `throttle` are `invoke emulator`'s options;
    `snapshot_every_s` replaces the emulator's snapshot interval (the benchmark's emulators
    snapshot only when they stop); `cwd` defaults to the state folder, `env` is added to
    `child_env()`.
    """

    def __init__(
        self,
        state_dir: Path,
        seed: Path | None = None,
        latency_ms: float = 0.0,
        *,
        faults: str | None = None,
        fault_seed: int = 0,
        throttle: str | None = None,
        snapshot_every_s: float | None = None,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        start_timeout_s: float = START_TIMEOUT_S,
    ) -> None:
        self.state_dir = state_dir
        self.seed = seed
        self.latency_ms = latency_ms
        self.faults = faults
        self.fault_seed = fault_seed
        self.throttle = throttle
        self.snapshot_every_s = snapshot_every_s
        self.cwd = cwd
        self.env = env
        self.start_timeout_s = start_timeout_s
        self.proc: subprocess.Popen[str] | None = None
        self._ready = threading.Event()
        self._output: list[str] = []
        self._stderr: IO[str] | None = None

    @property
    def endpoints_file(self) -> Path:
        return self.state_dir / "endpoints.json"

    @property
    def requests_file(self) -> Path:
        return self.state_dir / "requests.jsonl"

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError("the emulator process is not running")
        return self.proc.pid

    def endpoints(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.endpoints_file.read_text(encoding="utf-8"))
        return data

    def _code(self) -> str:
        kwargs = {
            "seed_inventory": None if self.seed is None else str(self.seed),
            "faults": self.faults,
            "latency_ms": float(self.latency_ms),
            "fault_seed": int(self.fault_seed),
            "throttle": self.throttle,
        }
        lines = ["import sys", "from provision.emulator.cli import run_emulator"]
        if self.snapshot_every_s is not None:
            lines += [
                "import provision.emulator.server as server",
                f"server.SAVE_INTERVAL_S = {float(self.snapshot_every_s)!r}",
            ]
        lines.append(f"sys.exit(run_emulator({str(self.state_dir)!r}, **{kwargs!r}))")
        return "\n".join(lines) + "\n"

    def start(self) -> EmulatorProcess:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._stderr = (self.state_dir / "emulator.stderr").open("w", encoding="utf-8")
        self.proc = subprocess.Popen(  # noqa: S603 (our own interpreter and code)
            [sys.executable, "-c", self._code()],
            cwd=str(self.cwd or self.state_dir),
            env=child_env(self.env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            start_new_session=True,  # Ctrl-C reaches us only; we stop the child ourselves
        )
        try:
            threading.Thread(target=self._drain, name="emulator-stdout", daemon=True).start()
            deadline = time.monotonic() + self.start_timeout_s
            while not self._ready.wait(0.05):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise EmulatorStartError(f"emulator did not start: {self._failure_text()}")
        except BaseException:
            self.stop()
            raise
        return self

    def _drain(self) -> None:
        proc = self.proc
        assert proc is not None and proc.stdout is not None
        for line in proc.stdout:
            if len(self._output) < 200:
                self._output.append(line.rstrip())
            if line.startswith("serving"):
                self._ready.set()

    def _failure_text(self) -> str:
        err = ""
        with contextlib.suppress(OSError):
            err = (self.state_dir / "emulator.stderr").read_text(encoding="utf-8")
        text = " | ".join([*self._output[-5:], *err.strip().splitlines()[-5:]])
        return text or "no output"

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)  # the emulator saves its state and exits
                proc.wait(timeout=15)
            except BaseException as exc:  # too slow, or a second Ctrl-C: leave no child behind
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(timeout=5)
                if not isinstance(exc, subprocess.TimeoutExpired):
                    raise
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def cpu_s(self) -> float | None:
        """CPU time (user + system) of the emulator process so far (Linux /proc; else None)."""
        if self.proc is None:
            return None
        try:
            stat = Path(f"/proc/{self.proc.pid}/stat").read_text(encoding="ascii")
            fields = stat.rpartition(")")[2].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None

    def log_offset(self) -> int:
        try:
            return self.requests_file.stat().st_size
        except FileNotFoundError:
            return 0

    def log_since(self, offset: int = 0) -> list[dict[str, Any]]:
        """requests.jsonl lines appended after byte `offset` (complete lines only)."""
        out: list[dict[str, Any]] = []
        with contextlib.suppress(FileNotFoundError), self.requests_file.open("rb") as fh:
            fh.seek(offset)
            for raw in fh:
                if not raw.endswith(b"\n"):
                    break
                with contextlib.suppress(ValueError):
                    out.append(json.loads(raw))
        return out

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
