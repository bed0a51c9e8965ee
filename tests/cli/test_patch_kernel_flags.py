"""patch-kernel has two command lines, the invoke task and the stand-alone patcher the startup
script runs (provision/kernel.py's argparse); both come from one table, PATCH_KERNEL_FLAGS, and
read the same command line the same way."""

from __future__ import annotations

import argparse
import inspect
from typing import Any

import pytest
from invoke.exceptions import ParseError
from invoke.parser import Parser, ParserContext
from support import run_invoke

from provision.kernel import PATCH_KERNEL_FLAGS, build_parser
from provision.tasks import ns

TASK = ns["patch-kernel"]
SHARED = [f for f in PATCH_KERNEL_FLAGS if f.task]


def _task_values(argv: list[str]) -> dict[str, Any]:
    context = ParserContext(name="patch-kernel", args=TASK.get_arguments())
    parsed = Parser(contexts=[context]).parse_argv(["patch-kernel", *argv])
    return {name.replace("-", "_"): arg.value for name, arg in parsed[0].args.items()}


def _patcher_values(argv: list[str]) -> dict[str, Any]:
    return vars(build_parser().parse_args(argv))


def _patcher_actions() -> dict[str, argparse.Action]:
    return {a.dest: a for a in build_parser()._actions if a.dest != "help"}


def test_the_task_has_the_tables_flags_in_its_order() -> None:
    params = list(inspect.signature(TASK.body).parameters)[1:]  # after the context
    assert params == [f.name for f in SHARED]
    only_patcher = [f.name for f in PATCH_KERNEL_FLAGS if not f.task]
    assert only_patcher == ["log_file"]  # the task's flags are pinned (test_task_flags.py)


def test_the_patcher_has_every_flag_of_the_table() -> None:
    assert sorted(_patcher_actions()) == sorted(f.name for f in PATCH_KERNEL_FLAGS)


def _squeezed(text: str) -> str:
    """Text without whitespace: the help screens wrap lines, long paths included."""
    return "".join(text.split())


def test_both_command_lines_explain_each_flag_the_same_way() -> None:
    task_help = _squeezed(run_invoke("--help", "patch-kernel").stdout)
    patcher_help = _squeezed(build_parser().format_help())
    for flag in SHARED:
        assert _squeezed(flag.help) in task_help, flag.name
    for flag in PATCH_KERNEL_FLAGS:
        assert _patcher_actions()[flag.name].help == flag.help
        assert _squeezed(flag.help) in patcher_help, flag.name


@pytest.mark.parametrize(
    "argv",
    [
        ["--config", "/c.yaml"],
        ["--config", "/c.yaml", "--kernel", "a", "--kernel", "b", "--dry-run", "--strict"],
        ["--config", "/c.yaml", "--all", "--kernel-dir", "/k1", "--kernel-dir", "/k2"],
        ["--config", "/c.yaml", "--mode", "nbuser", "--user-folder", "/u", "--revert"],
    ],
)
def test_both_command_lines_read_the_same_flags_the_same_way(argv: list[str]) -> None:
    task, patcher = _task_values(argv), _patcher_values(argv)
    assert task == {name: patcher[name] for name in task}
    assert patcher["log_file"] is None


def test_the_patcher_refuses_a_mode_the_task_would_refuse(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from provision.kernel import run_flags

    flags = {**_task_values(["--config", "/c.yaml"]), "mode": "legacy", "dry_run": True}
    assert run_flags(flags) == 1
    assert "unknown mode 'legacy'" in capsys.readouterr().err
    with pytest.raises(ParseError, match="--mode 'legacy': use one of kernel, nbuser"):
        _task_values(["--config", "/c.yaml", "--mode", "legacy"])  # the task refuses it first
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--config", "/c.yaml", "--mode", "legacy"])
