"""patch-kernel in kernel mode: kernel.json "env" gets MSTICPYCONFIG, nothing else changes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from kernel_helpers import (
    KERNEL_PY,
    KernelHome,
    PatchRunner,
    env_of,
    kernelspec_doc,
    run_invoke,
    snapshot,
    temp_leftovers,
)

from provision.kernel import BACKUP_SUFFIX, main


def backup_of(path: Path) -> Path:
    return path.with_name(path.name + BACKUP_SUFFIX)


def test_patch_sets_msticpyconfig_and_keeps_keys_order_and_other_env(
    kernel_home: KernelHome, config_file: Path, patch: PatchRunner
) -> None:
    doc = kernelspec_doc("sdk", metadata={"debugger": True})
    ordered = {
        "display_name": doc["display_name"],
        "env": {"PYTHONPATH": "/opt/x", "A": "1"},
        "argv": doc["argv"],
        "language": "python",
        "metadata": doc["metadata"],
    }
    path = kernel_home.add("python310-sdkv2", text=json.dumps(ordered, indent=1) + "\n")

    result = patch(config_file)

    assert result.code == 0, result.err
    assert f"python310-sdkv2: patched {path}" in result.out
    patched = json.loads(path.read_text())
    assert list(patched) == list(ordered)
    assert list(patched["env"].items()) == [
        ("PYTHONPATH", "/opt/x"),
        ("A", "1"),
        ("MSTICPYCONFIG", str(config_file)),
    ]
    assert {k: v for k, v in patched.items() if k != "env"} == {
        k: v for k, v in ordered.items() if k != "env"
    }
    assert path.read_text().startswith('{\n "display_name"')  # jupyter's indent=1 layout kept


def test_patch_adds_env_when_absent_and_revert_restores_exact_bytes(
    kernel_home: KernelHome, config_file: Path, patch: PatchRunner
) -> None:
    path = kernel_home.add("k1")
    original = path.read_bytes()

    assert patch(config_file, kernels=["k1"]).code == 0
    assert env_of(path) == {"MSTICPYCONFIG": str(config_file)}
    assert backup_of(path).read_bytes() == original

    result = patch(config_file, kernels=["k1"], revert=True)
    assert result.code == 0, result.err
    assert f"k1: reverted {path}" in result.out
    assert path.read_bytes() == original
    assert "env" not in json.loads(original)
    assert not backup_of(path).exists()
    assert temp_leftovers(path.parent) == []


def test_revert_restores_a_previous_msticpyconfig_value(
    kernel_home: KernelHome, config_file: Path, patch: PatchRunner
) -> None:
    path = kernel_home.add("k1", env={"MSTICPYCONFIG": "/old/msticpyconfig.yaml", "B": "2"})
    original = path.read_bytes()

    assert patch(config_file, kernels=["k1"]).code == 0
    assert env_of(path) == {"MSTICPYCONFIG": str(config_file), "B": "2"}
    assert patch(config_file, kernels=["k1"], revert=True).code == 0
    assert path.read_bytes() == original


def test_second_run_writes_nothing(
    kernel_home: KernelHome, config_file: Path, patch: PatchRunner
) -> None:
    path = kernel_home.add("k1")
    assert patch(config_file).code == 0
    before, backup_before = snapshot(path), snapshot(backup_of(path))

    result = patch(config_file)

    assert result.code == 0
    assert "k1: already set" in result.out
    assert "python3: already set" in result.out
    assert snapshot(path) == before
    assert snapshot(backup_of(path)) == backup_before


def test_dry_run_changes_nothing(
    kernel_home: KernelHome, config_file: Path, patch: PatchRunner
) -> None:
    path = kernel_home.add("k1")
    before = snapshot(path)

    result = patch(config_file, kernels=["k1"], dry_run=True)
    assert result.code == 0
    assert "k1: would patch" in result.out and "unset ->" in result.out
    assert snapshot(path) == before
    assert not backup_of(path).exists()

    assert patch(config_file, kernels=["k1"]).code == 0
    patched = snapshot(path)
    result = patch(config_file, kernels=["k1"], revert=True, dry_run=True)
    assert "k1: would revert" in result.out
    assert snapshot(path) == patched
    assert backup_of(path).exists()


def test_mode_and_owner_are_kept(
    kernel_home: KernelHome, config_file: Path, patch: PatchRunner
) -> None:
    if os.geteuid() != 0:
        pytest.skip("changing a file's owner to another user needs root")
    path = kernel_home.add("k1")
    os.chmod(path, 0o640)
    os.chown(path, 1234, 2345)

    assert patch(config_file, kernels=["k1"]).code == 0
    for p in (path, backup_of(path)):
        st = p.stat()
        assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, 1234, 2345), p

    assert patch(config_file, kernels=["k1"], revert=True).code == 0
    st = path.stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, 1234, 2345)


def test_default_selection_is_python_kernels_all_and_kernel_widen_it(
    kernel_home: KernelHome, config_file: Path, patch: PatchRunner
) -> None:
    r_kernel = kernel_home.add("ir", language="R")
    py_kernel = kernel_home.add("python38-azureml")

    result = patch(config_file)
    assert result.code == 0
    assert "ir: skipped (language 'R'" in result.out
    assert "MSTICPYCONFIG" not in env_of(r_kernel)
    assert env_of(py_kernel)["MSTICPYCONFIG"] == str(config_file)

    assert patch(config_file, kernels=["IR"]).code == 0  # kernelspec names are case-insensitive
    assert env_of(r_kernel)["MSTICPYCONFIG"] == str(config_file)
    assert patch(config_file, kernels=["ir"], revert=True).code == 0
    assert "env" not in json.loads(r_kernel.read_text())

    assert patch(config_file, all_kernels=True).code == 0
    assert env_of(r_kernel)["MSTICPYCONFIG"] == str(config_file)


def test_unknown_kernel_name_is_an_error_and_changes_nothing(
    kernel_home: KernelHome, config_file: Path, patch: PatchRunner
) -> None:
    path = kernel_home.add("k1")
    before = snapshot(path)

    result = patch(config_file, kernels=["k1", "nope"])

    assert result.code == 1
    assert result.err.count("\n") == 1 and "unknown kernelspec 'nope'" in result.err
    assert "found: k1, python3" in result.err
    assert snapshot(path) == before


def test_missing_config_warns_and_still_patches(
    kernel_home: KernelHome, tmp_path: Path, patch: PatchRunner
) -> None:
    path = kernel_home.add("k1")
    missing = tmp_path / "not-mounted-yet" / "msticpyconfig.yaml"

    result = patch(missing, kernels=["k1"])

    assert result.code == 0
    assert result.err.startswith("warning: config") and "does not exist" in result.err
    assert env_of(path)["MSTICPYCONFIG"] == str(missing)


def test_missing_config_with_strict_fails_and_writes_nothing(
    kernel_home: KernelHome, tmp_path: Path, patch: PatchRunner
) -> None:
    path = kernel_home.add("k1")
    before = snapshot(path)

    result = patch(tmp_path / "missing.yaml", strict=True)

    assert result.code == 1
    assert result.err.startswith("error: config") and "--strict" in result.err
    assert snapshot(path) == before
    assert not backup_of(path).exists()


BROKEN = {
    "not-json": '{"argv": ["python", "-m", "ipykernel_launcher"], "language": "python",',
    "not-a-mapping": '["python", "-m", "ipykernel_launcher"]\n',
    "env-not-a-mapping": '{"argv": [], "language": "python", "env": ["A=1"]}\n',
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_kernel_json_is_reported_left_alone_and_others_still_patched(
    kernel_home: KernelHome, config_file: Path, patch: PatchRunner, kind: str
) -> None:
    good = kernel_home.add("good")
    broken = kernel_home.add("broken", text=BROKEN[kind])
    before = snapshot(broken)

    result = patch(config_file)

    assert result.code == 1
    errors = result.err.splitlines()
    assert len(errors) == 1 and errors[0].startswith("error: broken: ")
    assert str(broken) in errors[0] and "left unchanged" in errors[0]
    assert snapshot(broken) == before
    assert not backup_of(broken).exists()
    assert env_of(good)["MSTICPYCONFIG"] == str(config_file)
    assert env_of(kernel_home.kernels / "python3" / "kernel.json")["MSTICPYCONFIG"] == str(
        config_file
    )


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux /proc")
def test_unreadable_kernel_json_is_reported_and_others_still_patched(
    kernel_home: KernelHome, config_file: Path, patch: PatchRunner
) -> None:
    # These tests run as root, where chmod 000 does not stop reads, and jupyter_client only
    # lists a kernelspec whose kernel.json is a regular file (a directory named kernel.json is
    # not found at all). /proc/self/mem is a regular file for stat(), and reading it from offset
    # 0 fails with EIO for every user: a real read error, with no mocking.
    good = kernel_home.add("good")
    folder = kernel_home.kernels / "unreadable"
    folder.mkdir()
    (folder / "kernel.json").symlink_to("/proc/self/mem")

    result = patch(config_file)

    assert result.code == 1
    assert f"error: unreadable: {folder / 'kernel.json'}: cannot read" in result.err
    assert (folder / "kernel.json").is_symlink()
    assert os.readlink(folder / "kernel.json") == "/proc/self/mem"
    assert sorted(p.name for p in folder.iterdir()) == ["kernel.json"]
    assert env_of(good)["MSTICPYCONFIG"] == str(config_file)


def test_revert_after_someone_else_edited_keeps_their_change(
    kernel_home: KernelHome, config_file: Path, patch: PatchRunner
) -> None:
    path = kernel_home.add("k1")
    assert patch(config_file, kernels=["k1"]).code == 0
    doc = json.loads(path.read_text())
    doc["env"]["OTHER"] = "theirs"
    path.write_text(json.dumps(doc, indent=1) + "\n")

    result = patch(config_file, kernels=["k1"], revert=True)

    assert result.code == 0
    assert "kept the changes made to it since the patch" in result.out
    assert env_of(path) == {"OTHER": "theirs"}
    assert not backup_of(path).exists()


def test_kernel_json_replaced_after_patch_gets_a_fresh_backup(
    kernel_home: KernelHome, config_file: Path, patch: PatchRunner
) -> None:
    path = kernel_home.add("k1")
    assert patch(config_file, kernels=["k1"]).code == 0
    # an image update writes a new kernel.json without our variable
    updated = kernel_home.add("k1", metadata={"image": "2025-06"})
    updated_bytes = updated.read_bytes()

    assert patch(config_file, kernels=["k1"]).code == 0
    assert backup_of(path).read_bytes() == updated_bytes
    assert patch(config_file, kernels=["k1"], revert=True).code == 0
    assert path.read_bytes() == updated_bytes


def test_revert_without_backup_changes_nothing(
    kernel_home: KernelHome, config_file: Path, patch: PatchRunner
) -> None:
    path = kernel_home.add("k1", env={"MSTICPYCONFIG": "/set/by/hand.yaml"})
    before = snapshot(path)

    result = patch(config_file, kernels=["k1"], revert=True)

    assert result.code == 0
    assert "k1: nothing to revert (no backup" in result.out
    assert snapshot(path) == before


def test_value_already_set_by_hand_is_left_alone(
    kernel_home: KernelHome, config_file: Path, patch: PatchRunner
) -> None:
    path = kernel_home.add("k1", env={"MSTICPYCONFIG": str(config_file)})
    before = snapshot(path)

    result = patch(config_file, kernels=["k1"])

    assert "k1: already set" in result.out
    assert snapshot(path) == before
    assert not backup_of(path).exists()


def test_dollar_signs_are_escaped_for_jupyter_env_substitution(
    kernel_home: KernelHome, tmp_path: Path, patch: PatchRunner
) -> None:
    path = kernel_home.add("k1")
    config = tmp_path / "$HOME" / "msticpyconfig.yaml"

    assert patch(config, kernels=["k1"]).code == 0
    # jupyter_client runs env values through string.Template: "$$" reaches the kernel as "$"
    assert env_of(path)["MSTICPYCONFIG"] == str(config).replace("$", "$$")
    assert "k1: already set" in patch(config, kernels=["k1"]).out


def test_relative_config_path_is_made_absolute(
    kernel_home: KernelHome, config_file: Path, patch: PatchRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = kernel_home.add("k1")
    monkeypatch.chdir(config_file.parent)

    assert patch("msticpyconfig.yaml", kernels=["k1"]).code == 0
    assert env_of(path)["MSTICPYCONFIG"] == str(config_file)


def test_mode_nbuser_needs_a_user_folder_and_unknown_mode_is_an_error(
    kernel_home: KernelHome, config_file: Path, patch: PatchRunner
) -> None:
    result = patch(config_file, mode="nbuser")
    assert result.code == 1 and "--user-folder is required" in result.err
    result = patch(config_file, mode="registry")
    assert result.code == 1 and "unknown mode 'registry'" in result.err


def test_main_parses_the_task_flags(
    kernel_home: KernelHome, config_file: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = kernel_home.add("k1")
    log = tmp_path / "patch.log"

    code = main(
        [
            "--config",
            str(config_file),
            "--kernel",
            "k1",
            "--kernel",
            "python3",
            "--log-file",
            str(log),
        ]
    )

    assert code == 0
    assert env_of(path)["MSTICPYCONFIG"] == str(config_file)
    assert "INFO k1: patched" in log.read_text()
    assert main(["--kernel", "k1", "--revert", "--dry-run"]) == 0  # --config optional here
    with pytest.raises(SystemExit) as exc:
        main(["--kernel", "k1"])
    assert exc.value.code == 2
    assert "--config is required" in capsys.readouterr().err


def test_invoke_task_patches_the_kernel(kernel_home: KernelHome, config_file: Path) -> None:
    path = kernel_home.add("k1")

    proc = run_invoke(
        "patch-kernel",
        "--config",
        str(config_file),
        "--kernel",
        "k1",
        env=kernel_home.subprocess_env(),
    )

    assert proc.returncode == 0, proc.stderr
    assert f"k1: patched {path}" in proc.stdout
    assert env_of(path)["MSTICPYCONFIG"] == str(config_file)
    assert "MSTICPYCONFIG" not in env_of(kernel_home.kernels / "python3" / "kernel.json")


def test_no_python_kernelspec_is_an_error(
    kernel_home: KernelHome, config_file: Path, patch: PatchRunner
) -> None:
    kernel_home.add("python3", language="R")  # the only spec, and not Python

    result = patch(config_file)

    assert result.code == 1
    assert "python3: skipped" in result.out
    assert "error: no Python kernelspec found among python3" in result.err


def test_kernel_and_all_together_is_an_error(
    kernel_home: KernelHome, config_file: Path, patch: PatchRunner
) -> None:
    result = patch(config_file, kernels=["python3"], all_kernels=True)
    assert result.code == 1 and "either --kernel NAME or --all" in result.err


def test_patcher_needs_only_the_standard_library_until_it_looks_for_kernels(
    config_file: Path,
) -> None:
    # -I -S: no site-packages at all, as with a bare compute Python without jupyter_client
    bare = [sys.executable, "-I", "-S", str(KERNEL_PY)]
    assert subprocess.run([*bare, "--help"], capture_output=True, check=False).returncode == 0

    proc = subprocess.run(
        [*bare, "--config", str(config_file)], capture_output=True, text=True, check=False
    )

    assert proc.returncode == 1
    assert proc.stderr.startswith("error: jupyter_client cannot be imported")
    assert "Traceback" not in proc.stderr
