"""A command line the tool cannot read, as an admin meets it through the console script run from
any folder: one line naming the problem and the closest flag, task or value, exit code 2, no
traceback, nothing started."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from support import BIN, EXAMPLE, run_console


def _script(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_console(*args, cwd=cwd, timeout=120)


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ["plan", "-i", str(EXAMPLE), "--loacl"],
            "error: plan: unknown flag --loacl (did you mean --local?); see --help plan",
        ),
        (  # invoke reads the words after an unknown flag as task names: the flag is named
            ["plan", "--loacl", "-i", str(EXAMPLE)],
            "error: plan: unknown flag --loacl (did you mean --local?); see --help plan",
        ),
        (
            ["apply", "-i", str(EXAMPLE), "--delete-compute"],
            "error: apply: unknown flag --delete-compute (did you mean --delete-computes?); "
            "see --help apply",
        ),
        (
            ["plan", "-i", str(EXAMPLE), "--storage-auth", "kye"],
            "error: --storage-auth 'kye': use one of auto, key, token (did you mean 'key'?)",
        ),
        (
            ["patch-kernel", "-c", "/c.yaml", "--mode", "nbusr"],
            "error: --mode 'nbusr': use one of kernel, nbuser (did you mean 'nbuser'?)",
        ),
        (
            ["apply", "-i", str(EXAMPLE), "--lock-timeout=abc"],
            "error: --lock-timeout 'abc': use a number",
        ),
        (
            ["plan", "-i", str(EXAMPLE), "--max-concurrency", "lots"],
            "error: --max-concurrency 'lots': use a whole number",
        ),
        (
            ["plna", "-i", str(EXAMPLE)],
            "error: unknown task or argument 'plna' (did you mean plan?); see --list",
        ),
    ],
)
def test_a_command_line_that_cannot_be_read_is_one_line_and_exit_2(
    tmp_path: Path, argv: list[str], line: str
) -> None:
    res = _script(*argv, cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert res.stderr.splitlines() == [line]
    assert res.stdout == ""
    assert list(tmp_path.iterdir()) == []  # nothing started, nothing written


def test_apply_has_no_short_option_for_what_deletes(tmp_path: Path) -> None:
    # `-g` used to be --grant-access (`-d`, once --delete-computes, is now invoke's --debug)
    res = _script("apply", "-i", str(EXAMPLE), "-g", cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.startswith("error: apply: unknown flag -g")


def test_a_letter_no_task_flag_has_is_not_one_of_invokes_own(tmp_path: Path) -> None:
    # in invoke, `apply -d` would be its --debug; here -d is only plan's --detailed-exitcode
    res = _script("apply", "-i", str(EXAMPLE), "-d", cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.splitlines() == ["error: apply: unknown flag -d; see --help apply"]


def test_help_piped_into_a_reader_that_stops_early_is_not_a_traceback(tmp_path: Path) -> None:
    # as `msticpy-provision --help plan | head -1`: the reader has gone before the help is written
    proc = subprocess.Popen(
        [str(BIN / "msticpy-provision"), "--help", "plan"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(60) == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err


def test_help_shows_what_each_valued_flag_takes(tmp_path: Path) -> None:
    res = _script("--help", "apply", cwd=tmp_path)
    assert res.returncode == 0
    text = " ".join(res.stdout.split())
    for shown in (
        "-i PATH, --inventory=PATH",
        "-t NAME, --tenant=NAME",
        "--lock-timeout=SECONDS",
        "--storage-auth=auto|key|token",
        "--prune-max=N",
        "--plan=PATH",
        "--yes ",
        "--delete-computes ",
    ):
        assert shown in text, shown
    assert "STRING" not in text and "--," not in text
