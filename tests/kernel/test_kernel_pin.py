"""The startup script's pinned msticpy kernel, booted as Azure ML runs it (bash, as root, at every
boot) in a sandbox: every path it uses comes from its documented MSTICPY_PROVISION_* overrides.

A small wheel named msticpy stands in for msticpy (written in tmp_path, installed with
`--no-index --find-links`); one slow test installs a real msticpy from
the package index. The kernel is started by jupyter_client from the kernelspec the script
registered, as Jupyter would.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from kernel_helpers import KernelHome, run_in_kernel

from provision.inventory.load import load_inventory
from provision.render import STARTUP_SCRIPT, Renderer

BASE = (Path(__file__).parents[1] / "inventory" / "broken" / "alias_empty.yaml").read_text()
CONFIG = "/home/azureuser/cloudfiles/code/Users/ann/msticpyconfig.yaml"


def stand_in_wheel(folder: Path, version: str) -> Path:
    """A wheel named msticpy at `version` whose module reports that version (a wheel is a zip
    with the module, METADATA, WHEEL and RECORD: PEP 427), in folder/wheels."""
    wheels = folder / "wheels"
    wheels.mkdir(exist_ok=True)
    info = f"msticpy-{version}.dist-info"
    files = {
        "msticpy/__init__.py": f'__version__ = "{version}"\n',
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: msticpy\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    files[f"{info}/RECORD"] = "".join(f"{name},,\n" for name in [*files, f"{info}/RECORD"])
    with zipfile.ZipFile(wheels / f"msticpy-{version}-py3-none-any.whl", "w") as whl:
        for name, text in files.items():
            whl.writestr(name, text)
    return wheels


class PinnedBoot:
    """Render a user's startup script from an inventory with a kernel pin; boot it in tmp_path."""

    def __init__(self, home: KernelHome, tmp_path: Path) -> None:
        self.home = home
        self.tmp = tmp_path
        self.envs = tmp_path / "envs"
        self.status = tmp_path / "share" / "Users" / "ann" / "kernel-status.json"
        self.log = tmp_path / "startup.log"

    def script(self, kernel: str) -> Path:
        inv = self.tmp / "inventory.yaml"
        inv.write_text(
            BASE.replace('users: [""]', "users: [ann]")
            + f"    azure_auth_methods: [msi]\n    compute_policy:\n      kernel: {kernel}\n"
        )
        t = load_inventory(inv).tenants[0]
        path = self.tmp / STARTUP_SCRIPT
        path.write_bytes(Renderer().render_tenant(t).user_files["ann"][STARTUP_SCRIPT].content)
        return path

    def run(self, kernel: str) -> subprocess.CompletedProcess[str]:
        env = self.home.subprocess_env(
            MSTICPY_PROVISION_PYTHON=sys.executable,
            MSTICPY_PROVISION_ANALYST_HOME=str(self.tmp / "home"),
            MSTICPY_PROVISION_JUPYTER_ENV=str(self.tmp / "jupyter_env"),
            MSTICPY_PROVISION_LOG=str(self.log),
            MSTICPY_PROVISION_USER_FOLDER=str(self.tmp / "share" / "Users" / "ann"),
            MSTICPY_PROVISION_ENV_ROOT=str(self.envs),
            MSTICPY_PROVISION_KERNELS_DIR=str(self.home.kernels),
            MSTICPY_PROVISION_BASE_PYTHON=sys.executable,
            MSTICPY_PROVISION_KERNEL_STATUS=str(self.status),
        )
        return subprocess.run(
            ["bash", str(self.script(kernel))],
            env=env, capture_output=True, text=True, timeout=600, check=False, cwd=self.tmp,
        )  # fmt: skip

    def state(self) -> dict[str, str]:
        doc: dict[str, str] = json.loads(self.status.read_text())
        return doc


CHECK = "import os, msticpy; print(msticpy.__version__, os.environ['MSTICPYCONFIG'])"


@pytest.mark.slow
def test_a_pinned_kernel_is_built_once_starts_with_msticpyconfig_and_survives_a_failed_pin(
    kernel_home: KernelHome, tmp_path: Path
) -> None:
    wheels = stand_in_wheel(tmp_path, "9.9.9")
    boot = PinnedBoot(kernel_home, tmp_path)
    pin = f"{{requirement: 'msticpy==9.9.9', wheelhouse: {wheels}}}"

    first = boot.run(pin)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "pinned kernel msticpy-contoso-9.9.9: installed msticpy 9.9.9" in first.stdout
    status = boot.state()
    assert status["result"] == "installed" and status["installed_version"] == "9.9.9"
    assert status["requirement"] == "msticpy==9.9.9" and status["when"]
    spec = json.loads((kernel_home.kernels / "msticpy-contoso-9.9.9" / "kernel.json").read_text())
    assert spec["env"]["MSTICPYCONFIG"] == CONFIG
    # jupyter_client finds the kernelspec and starts it: the pinned version imports
    assert run_in_kernel("msticpy-contoso-9.9.9", CHECK).split() == ["9.9.9", CONFIG]
    # the image's own kernels are patched as before
    python3 = json.loads((kernel_home.kernels / "python3" / "kernel.json").read_text())
    assert python3["env"]["MSTICPYCONFIG"] == CONFIG

    env_python = boot.envs / "msticpy-contoso-9.9.9" / "bin" / "python"
    built = env_python.parent.parent.stat().st_mtime_ns
    second = boot.run(pin)
    assert second.returncode == 0
    assert "msticpy 9.9.9 (already installed)" in second.stdout
    assert boot.state()["result"] == "unchanged"
    assert env_python.parent.parent.stat().st_mtime_ns == built
    assert not any("pip: " in line for line in _since(boot.log, "nothing to install"))

    # a pin that cannot be installed: the boot succeeds, the status says why, 9.9.9 stays usable
    third = boot.run(f"{{requirement: 'msticpy==9.9.10', wheelhouse: {wheels}}}")
    assert third.returncode == 0 and "warning" in third.stdout
    failed = boot.state()
    assert failed["result"] == "failed" and "msticpy==9.9.10" in failed["detail"]
    assert "No matching distribution" in failed["detail"] or "pip exit status" in failed["detail"]
    assert not (boot.envs / "msticpy-contoso-9.9.10").exists()
    assert not list(boot.envs.glob(".new-*"))
    assert run_in_kernel("msticpy-contoso-9.9.9", CHECK).split() == ["9.9.9", CONFIG]


def _since(log: Path, mark: str) -> list[str]:
    lines = log.read_text().splitlines()
    last = max(i for i, line in enumerate(lines) if mark in line)
    return lines[last:]


@pytest.mark.slow
def test_a_pinned_kernel_installs_from_the_real_package_index(
    kernel_home: KernelHome, tmp_path: Path
) -> None:
    """msticpy 3.0.1 from the package index (its dependencies are the image's, as on Azure ML)."""
    reach = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(tmp_path / "dl"),
         "msticpy==3.0.1"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if reach.returncode != 0:
        pytest.skip(f"the package index is unreachable: {reach.stderr.strip()[-200:]}")
    boot = PinnedBoot(kernel_home, tmp_path)
    res = boot.run("{requirement: 'msticpy[azure]==3.0.1'}")
    assert res.returncode == 0, res.stdout + res.stderr
    assert boot.state()["result"] == "installed", boot.log.read_text()[-3000:]
    assert run_in_kernel("msticpy-contoso-3.0.1", CHECK, timeout=120).split() == ["3.0.1", CONFIG]
