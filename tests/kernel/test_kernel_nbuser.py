"""Legacy nbuser mode: a marked block in Users/<alias>/nbuser_settings.py, nothing else touched."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from kernel_helpers import KernelHome, PatchRunner, Result, snapshot

from provision.kernel import BLOCK_END


@pytest.fixture
def user_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "Users" / "ann"
    folder.mkdir(parents=True)
    return folder


def nbuser(patch: PatchRunner, config: Path | str, folder: Path, **kwargs: object) -> Result:
    return patch(config, mode="nbuser", user_folder=str(folder), **kwargs)


def value_after_running(settings: Path) -> str:
    """Run nbuser_settings.py as check_versions did and report MSTICPYCONFIG."""
    code = (
        "import os, runpy, sys; os.environ.pop('MSTICPYCONFIG', None); "
        "runpy.run_path(sys.argv[1]); print(os.environ['MSTICPYCONFIG'], end='')"
    )
    return subprocess.run(
        [sys.executable, "-c", code, str(settings)], capture_output=True, text=True, check=True
    ).stdout


def test_block_is_added_other_content_kept_and_revert_restores_bytes(
    user_folder: Path, config_file: Path, patch: PatchRunner
) -> None:
    settings = user_folder / "nbuser_settings.py"
    original = b"# my settings\nimport sys\nX = '\xc3\xa9t\xc3\xa9'  # caf\xe9 in latin-1\n"
    settings.write_bytes(original)

    result = nbuser(patch, config_file, user_folder)

    assert result.code == 0, result.err
    assert "nbuser_settings.py: patched" in result.out
    assert "kernel mode" in result.out and "preferred" in result.out
    assert "no longer runs nbuser_settings.py" in result.out
    data = settings.read_bytes()
    assert data.startswith(original)
    assert b"msticpy-provision" in data and BLOCK_END.encode() in data
    assert value_after_running(settings) == str(config_file)

    result = nbuser(patch, config_file, user_folder, revert=True)
    assert result.code == 0
    assert settings.read_bytes() == original


def test_second_run_writes_nothing(
    user_folder: Path, config_file: Path, patch: PatchRunner
) -> None:
    settings = user_folder / "nbuser_settings.py"
    settings.write_text("A = 1\n")
    assert nbuser(patch, config_file, user_folder).code == 0
    before = snapshot(settings)

    result = nbuser(patch, config_file, user_folder)

    assert "nbuser_settings.py: already set" in result.out
    assert snapshot(settings) == before


def test_block_is_updated_in_place_when_the_config_changes(
    user_folder: Path, config_file: Path, patch: PatchRunner, tmp_path: Path
) -> None:
    settings = user_folder / "nbuser_settings.py"
    settings.write_text("A = 1\n")
    assert nbuser(patch, config_file, user_folder).code == 0
    with settings.open("a") as handle:
        handle.write("B = 2\n")
    other = tmp_path / "elsewhere" / "msticpyconfig.yaml"

    assert nbuser(patch, other, user_folder).code == 0

    text = settings.read_text()
    assert text.startswith("A = 1\n# >>> msticpy-provision") and text.endswith("B = 2\n")
    assert text.count("msticpy-provision: begin") == 1
    assert value_after_running(settings) == str(other)
    assert nbuser(patch, other, user_folder, revert=True).code == 0
    assert settings.read_text() == "A = 1\nB = 2\n"


def test_file_without_final_newline_is_restored_exactly(
    user_folder: Path, config_file: Path, patch: PatchRunner
) -> None:
    settings = user_folder / "nbuser_settings.py"
    settings.write_bytes(b"A = 1")

    assert nbuser(patch, config_file, user_folder).code == 0
    assert value_after_running(settings) == str(config_file)
    assert nbuser(patch, config_file, user_folder, revert=True).code == 0
    assert settings.read_bytes() == b"A = 1"


def test_file_we_created_is_removed_on_revert(
    user_folder: Path, tmp_path: Path, patch: PatchRunner
) -> None:
    settings = user_folder / "nbuser_settings.py"
    config = tmp_path / 'it\'s a \\ "quoted" $HOME path' / "msticpyconfig.yaml"

    result = nbuser(patch, config, user_folder)
    assert result.code == 0
    assert result.err.startswith("warning: config")  # it does not exist
    assert value_after_running(settings) == str(config)  # a Python literal, no $ expansion

    result = nbuser(patch, config, user_folder, revert=True)
    assert result.code == 0 and "removed" in result.out
    assert not settings.exists()
    assert list(user_folder.iterdir()) == []


def test_dry_run_and_revert_without_block_change_nothing(
    user_folder: Path, config_file: Path, patch: PatchRunner
) -> None:
    settings = user_folder / "nbuser_settings.py"
    settings.write_text("A = 1\n")
    before = snapshot(settings)

    assert "would patch" in nbuser(patch, config_file, user_folder, dry_run=True).out
    assert "nothing to revert" in nbuser(patch, config_file, user_folder, revert=True).out
    assert snapshot(settings) == before


def test_file_that_already_sets_the_value_is_left_alone(
    user_folder: Path, config_file: Path, patch: PatchRunner
) -> None:
    # e.g. the nbuser_settings.py that `apply` uploads to the share
    settings = user_folder / "nbuser_settings.py"
    settings.write_text(f'import os\n\nos.environ["MSTICPYCONFIG"] = {str(config_file)!r}\n')
    before = snapshot(settings)

    result = nbuser(patch, config_file, user_folder)

    assert result.code == 0
    assert "already set by the file itself" in result.out
    assert snapshot(settings) == before


def test_unterminated_block_is_an_error(
    user_folder: Path, config_file: Path, patch: PatchRunner
) -> None:
    settings = user_folder / "nbuser_settings.py"
    settings.write_text("# >>> msticpy-provision: begin managed block >>>\nimport os\n")
    before = snapshot(settings)

    result = nbuser(patch, config_file, user_folder)

    assert result.code == 1 and str(settings) in result.err
    assert snapshot(settings) == before


def test_missing_user_folder_is_an_error(
    tmp_path: Path, config_file: Path, patch: PatchRunner
) -> None:
    result = nbuser(patch, config_file, tmp_path / "not-mounted")
    assert result.code == 1 and "does not exist" in result.err


def test_nbuser_mode_leaves_kernelspecs_alone(
    kernel_home: KernelHome, user_folder: Path, config_file: Path, patch: PatchRunner
) -> None:
    path = kernel_home.add("k1")
    before = snapshot(path)
    assert nbuser(patch, config_file, user_folder).code == 0
    assert snapshot(path) == before
