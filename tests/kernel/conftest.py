"""Fixtures for the compute side: real kernelspec folders that only jupyter_client's own
discovery (JUPYTER_PATH, JUPYTER_DATA_DIR) can find, and a runner for the patcher."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from kernel_helpers import KernelHome, PatchRunner, Result

from provision.demo_sandbox import jupyter_env
from provision.kernel import run_patch_kernel


@pytest.fixture
def kernel_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> KernelHome:
    """Point jupyter_client at folders in tmp_path, and make sure it sees nothing else.

    JUPYTER_PATH comes first in jupyter_client's search; the environment's own share/jupyter
    and the system folders are always searched too, so the fixture shadows the usual
    ``python3`` spec with its own and then checks that every spec found lives in tmp_path -
    a test must never patch the virtualenv's real kernel.json.
    """
    root = tmp_path / "jupyter"
    home = KernelHome(root=root, kernels=root / "path" / "kernels")
    home.env = jupyter_env(root)
    for key, value in home.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MSTICPYCONFIG", raising=False)
    home.kernels.mkdir(parents=True)
    home.add("python3")
    found = KernelSpecManager(ensure_native_kernel=False).find_kernel_specs()
    outside = {
        name: folder
        for name, folder in found.items()
        if not Path(folder).resolve().is_relative_to(tmp_path.resolve())
    }
    if outside:
        pytest.fail(
            f"kernelspecs outside the test's folders are visible: {outside}; "
            "these tests would patch them"
        )
    return home


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """An existing msticpyconfig.yaml in a user folder."""
    folder = tmp_path / "cloudfiles" / "code" / "Users" / "ann"
    folder.mkdir(parents=True)
    path = folder / "msticpyconfig.yaml"
    path.write_text("AzureSentinel: {}\n", encoding="utf-8")
    return path


@pytest.fixture
def patch(capsys: pytest.CaptureFixture[str]) -> Iterator[PatchRunner]:
    """Call run_patch_kernel with defaults; returns exit code and captured output."""

    def run(config: str | Path, **kwargs: Any) -> Result:
        args: dict[str, Any] = {
            "kernels": [],
            "all_kernels": False,
            "mode": "kernel",
            "user_folder": None,
            "revert": False,
            "dry_run": False,
            "strict": False,
        }
        args.update(kwargs)
        capsys.readouterr()
        code = run_patch_kernel(config=str(config), **args)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    yield run
