"""The kernels analysts actually use are patched too: their own (`ipykernel install --user`,
in /home/azureuser/.local/share/jupyter/kernels) and those of the `jupyter_env` conda
environment the Jupyter server runs in on current Azure ML images (`conda env list` on a compute
instance lists /anaconda/envs/jupyter_env). The startup script runs as root, whose own
jupyter_client search finds neither. Tests use a fake home and a fake environment prefix,
filled by ipykernel's own installer.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from kernel_helpers import KernelHome, PatchRunner, env_of, run_in_kernel, run_invoke
from test_kernel_startup_script import Boot

PRINT_CONFIG = 'import os; print(os.environ.get("MSTICPYCONFIG"))'


def _ipykernel_install(*args: str, home: Path) -> None:
    """Install this Python as a kernelspec with ipykernel's own installer, as an analyst would."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_")}
    env["HOME"] = str(home)
    subprocess.run(
        [sys.executable, "-m", "ipykernel", "install", *args],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )


@pytest.fixture
def analyst(tmp_path: Path) -> tuple[Path, Path]:
    """(kernels folder of a fake /home/azureuser, kernels folder of a fake jupyter_env)."""
    home = tmp_path / "home" / "azureuser"
    home.mkdir(parents=True)
    _ipykernel_install("--user", "--name", "analyst-env", home=home)
    _ipykernel_install("--user", "--name", "python3", home=home)  # shadows the system python3
    prefix = tmp_path / "anaconda" / "envs" / "jupyter_env"
    _ipykernel_install("--prefix", str(prefix), home=home)
    user_kernels = home / ".local" / "share" / "jupyter" / "kernels"
    env_kernels = prefix / "share" / "jupyter" / "kernels"
    assert (user_kernels / "analyst-env" / "kernel.json").is_file()
    assert (env_kernels / "python3" / "kernel.json").is_file()
    return user_kernels, env_kernels


def test_user_and_server_env_kernels_are_patched_and_seen_by_a_real_kernel(
    kernel_home: KernelHome, config_file: Path, patch: PatchRunner, analyst: tuple[Path, Path]
) -> None:
    user_kernels, env_kernels = analyst
    dirs = [str(user_kernels), str(env_kernels)]

    result = patch(config_file, kernel_dirs=dirs)

    assert result.code == 0, result.err
    patched = [
        kernel_home.kernels / "python3" / "kernel.json",  # the system one, still patched
        user_kernels / "python3" / "kernel.json",  # same name, in the analyst's folder
        user_kernels / "analyst-env" / "kernel.json",
        env_kernels / "python3" / "kernel.json",
    ]
    for path in patched:
        assert env_of(path)["MSTICPYCONFIG"] == str(config_file), path
    # started the way the analyst's Jupyter server starts it: from the analyst's folder
    assert run_in_kernel("analyst-env", PRINT_CONFIG, kernel_dirs=[str(user_kernels)]) == (
        f"{config_file}\n"
    )

    assert patch(config_file, kernel_dirs=dirs, revert=True).code == 0
    assert all("MSTICPYCONFIG" not in env_of(path) for path in patched)


def test_a_link_in_the_analysts_folder_is_not_followed(
    kernel_home: KernelHome, config_file: Path, patch: PatchRunner, tmp_path: Path
) -> None:
    victim = tmp_path / "root-owned.json"
    victim.write_text('{"argv": ["x"], "display_name": "x", "language": "python"}\n')
    before = victim.read_bytes()
    user_kernels = tmp_path / "home" / "azureuser" / ".local" / "share" / "jupyter" / "kernels"
    (user_kernels / "evil").mkdir(parents=True)
    (user_kernels / "evil" / "kernel.json").symlink_to(victim)

    result = patch(config_file, kernel_dirs=[str(user_kernels)])

    assert result.code == 1
    assert "evil:" in result.err and "symbolic link" in result.err
    assert victim.read_bytes() == before
    assert env_of(kernel_home.kernels / "python3" / "kernel.json")["MSTICPYCONFIG"] == str(
        config_file
    )


def test_a_missing_kernel_folder_is_a_note_not_an_error(
    kernel_home: KernelHome, config_file: Path, patch: PatchRunner, tmp_path: Path
) -> None:
    result = patch(config_file, kernel_dirs=[str(tmp_path / "no-such-home" / "kernels")])
    assert result.code == 0, result.err
    assert "note: no kernel folder" in result.out


@pytest.mark.skipif(os.geteuid() != 0, reason="the startup script runs as root on Azure ML")
def test_boot_patches_the_analysts_and_the_servers_kernels_keeping_owners(
    kernel_home: KernelHome, tmp_path: Path, analyst: tuple[Path, Path]
) -> None:
    user_kernels, env_kernels = analyst
    analyst_json = user_kernels / "analyst-env" / "kernel.json"
    os.chown(analyst_json, 1000, 1000)
    boot = Boot(kernel_home, tmp_path)
    boot.config.write_text("AzureSentinel: {}\n")
    home = user_kernels.parents[3]
    prefix = env_kernels.parents[2]

    res = boot.run(
        env={
            "MSTICPY_PROVISION_ANALYST_HOME": str(home),
            "MSTICPY_PROVISION_JUPYTER_ENV": str(prefix),
        }
    )

    assert res.returncode == 0, res.stderr
    assert "warning" not in res.stdout, res.stdout
    for path in (analyst_json, env_kernels / "python3" / "kernel.json"):
        assert env_of(path)["MSTICPYCONFIG"] == str(boot.config), path
    assert (analyst_json.stat().st_uid, analyst_json.stat().st_gid) == (1000, 1000)


def test_patch_kernel_task_takes_kernel_dirs(
    kernel_home: KernelHome, config_file: Path, analyst: tuple[Path, Path]
) -> None:
    user_kernels, _ = analyst
    proc = run_invoke(
        "patch-kernel",
        "--config",
        str(config_file),
        "--kernel-dir",
        str(user_kernels),
        env=kernel_home.subprocess_env(),
    )
    assert proc.returncode == 0, proc.stderr
    assert env_of(user_kernels / "analyst-env" / "kernel.json")["MSTICPYCONFIG"] == str(config_file)
