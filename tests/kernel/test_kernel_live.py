"""A real kernel, started by jupyter_client from the patched kernelspec, sees MSTICPYCONFIG."""

from __future__ import annotations

from pathlib import Path

from kernel_helpers import KernelHome, PatchRunner, run_in_kernel, run_invoke

PRINT_CONFIG = 'import os; print(os.environ.get("MSTICPYCONFIG"))'


def test_started_kernel_sees_msticpyconfig_and_no_longer_after_revert(
    kernel_home: KernelHome, tmp_path: Path, patch: PatchRunner
) -> None:
    # A space and "$HOME" in the path: the value must reach the kernel literally, although
    # jupyter_client expands $VARIABLES in kernel.json env values.
    folder = tmp_path / "share $HOME dir" / "Users" / "ann"
    folder.mkdir(parents=True)
    config = folder / "msticpyconfig.yaml"
    config.write_text("AzureSentinel: {}\n")
    kernel_home.add("msticpy-test")

    result = patch(config, kernels=["msticpy-test"])
    assert result.code == 0, result.err
    assert run_in_kernel("msticpy-test", PRINT_CONFIG) == f"{config}\n"

    proc = run_invoke(
        "patch-kernel",
        "--config",
        str(config),
        "--kernel",
        "msticpy-test",
        "--revert",
        env=kernel_home.subprocess_env(),
    )
    assert proc.returncode == 0, proc.stderr
    assert "msticpy-test: reverted" in proc.stdout
    assert run_in_kernel("msticpy-test", PRINT_CONFIG) == "None\n"
