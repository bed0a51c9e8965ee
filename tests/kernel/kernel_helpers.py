"""Helpers shared by the tests of provision/kernel.py (a uniquely named module: tests/kernel is
on sys.path under pytest's default import mode, and other test folders may have their own
helpers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import support

REPO = Path(__file__).resolve().parents[2]
KERNEL_PY = REPO / "provision" / "kernel.py"


def kernelspec_doc(name: str, language: str = "python", **extra: Any) -> dict[str, Any]:
    """A kernel.json document like the ones ipykernel installs, running this test's Python."""
    doc: dict[str, Any] = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Test {name}",
        "language": language,
    }
    doc.update(extra)
    return doc


@dataclass
class KernelHome:
    """A private Jupyter data tree: JUPYTER_PATH/kernels/<name>/kernel.json."""

    root: Path
    kernels: Path
    env: dict[str, str] = field(default_factory=dict)

    def add(
        self, name: str, language: str = "python", *, text: str | None = None, **extra: Any
    ) -> Path:
        """Create kernels/<name>/kernel.json (from ``text`` verbatim, if given)."""
        folder = self.kernels / name
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "kernel.json"
        if text is None:
            text = json.dumps(kernelspec_doc(name, language, **extra), indent=1) + "\n"
        path.write_text(text, encoding="utf-8")
        return path

    def subprocess_env(self, **more: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        env.update(more)
        return env


@dataclass
class Result:
    code: int
    out: str
    err: str


PatchRunner = Callable[..., Result]


def env_of(path: Path) -> dict[str, Any]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    env = doc.get("env", {})
    assert isinstance(env, dict)
    return env


def snapshot(path: Path) -> tuple[bytes, int, int]:
    """Bytes, inode and mtime: an atomic rewrite changes the inode even within one tick."""
    st = path.stat()
    return path.read_bytes(), st.st_ino, st.st_mtime_ns


def temp_leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def run_in_kernel(
    kernel_name: str, code: str, timeout: float = 60.0, kernel_dirs: list[str] | None = None
) -> str:
    """Start a fresh kernel from its kernelspec with jupyter_client, run ``code``, return stdout.

    ``kernel_dirs``: look the kernelspec up only there, as a Jupyter server running as another
    user or in another environment would.
    """
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    if kernel_dirs is None:
        manager = KernelManager(kernel_name=kernel_name)
    else:
        specs = KernelSpecManager(kernel_dirs=kernel_dirs, ensure_native_kernel=False)
        manager = KernelManager(kernel_name=kernel_name, kernel_spec_manager=specs)
    manager.start_kernel()
    try:
        client = manager.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=timeout)
            chunks: list[str] = []

            def collect(msg: dict[str, Any]) -> None:
                if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
                    chunks.append(msg["content"]["text"])

            reply = client.execute_interactive(code, timeout=timeout, output_hook=collect)
            assert reply["content"]["status"] == "ok", reply["content"]
        finally:
            client.stop_channels()
    finally:
        manager.shutdown_kernel(now=True)
    return "".join(chunks)


def run_invoke(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`invoke ARGS` with exactly `env` (support.run_invoke, as every suite runs the tool)."""
    return support.run_invoke(*args, env=env, timeout=120, inherit_env=False)
