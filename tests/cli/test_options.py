"""A run's flags are one value, RunOptions: named as the flags, keyword-only, and checked when
built, so a bad value stops the run with one line per problem before anything starts."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest
from support import EXAMPLE, run_invoke

from provision.errors import UserInputError
from provision.options import RunOptions
from provision.tasks import ns

AZURE_TASKS = ("plan", "apply", "verify", "onboard")


def test_every_bad_value_is_one_line() -> None:
    with pytest.raises(UserInputError) as caught:
        RunOptions(
            inventory="inventory.yaml",
            local=True,
            endpoints="endpoints.json",
            max_concurrency=0,
            prune_max=-1,
            lock_timeout=float("nan"),
            storage_auth="bogus",
        )
    assert caught.value.lines() == [
        "--local and --endpoints exclude each other",
        "--max-concurrency 0: use 1 or more",
        "--prune-max -1: use 0 or more",
        "--lock-timeout nan: use 0 or more seconds",
        "--storage-auth 'bogus': use one of auto, key, token",
    ]


def test_good_values_are_kept_as_given() -> None:
    opts = RunOptions(
        inventory="i.yaml",
        tenant=["contoso", "fabrikam"],
        max_concurrency=1,
        prune_max=0,
        lock_timeout=2.5,
        storage_auth="token",
    )
    assert opts.tenant == ("contoso", "fabrikam")
    assert (opts.max_concurrency, opts.prune_max, opts.lock_timeout) == (1, 0, 2.5)
    assert opts.storage_auth == "token"


def test_options_take_keywords_only_and_do_not_change() -> None:
    with pytest.raises(TypeError):
        RunOptions("inventory.yaml", ["contoso"])  # type: ignore[misc]
    opts = RunOptions(inventory="inventory.yaml")
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.prune = True  # type: ignore[misc]


@pytest.mark.parametrize("task_name", AZURE_TASKS)
def test_a_tasks_flags_are_the_options_fields_with_their_defaults(task_name: str) -> None:
    fields = {f.name: f for f in dataclasses.fields(RunOptions)}
    params = list(inspect.signature(ns[task_name].body).parameters.values())[1:]  # after c
    assert params, task_name
    for p in params:
        assert p.name in fields, f"{task_name}: --{p.name} is not a RunOptions field"
        field = fields[p.name]
        if field.default is dataclasses.MISSING:
            assert p.default is inspect.Parameter.empty, p.name
        elif p.name == "tenant":  # invoke's repeatable flag: None (or []) is "every tenant"
            assert p.default is None and field.default == ()
        else:
            assert p.default == field.default, p.name


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--prune-max", "-1"], "error: --prune-max -1: use 0 or more"),
        (["--storage-auth", "bogus"], "error: --storage-auth 'bogus': use one of auto, key, token"),
        (["--lock-timeout", "abc"], "error: --lock-timeout 'abc': use a number"),
        (["--max-concurrency", "0"], "error: --max-concurrency 0: use 1 or more"),
        (["--max-concurrency", "many"], "error: --max-concurrency 'many': use a whole number"),
    ],
)
def test_a_bad_flag_stops_local_before_the_emulator_starts(
    tmp_path: Path, flags: list[str], message: str
) -> None:
    state = tmp_path / "local-emulator"
    res = run_invoke(
        "apply",
        "-i",
        str(EXAMPLE),
        "--local",
        *flags,
        env={"MSTICPY_PROVISION_LOCAL_DIR": str(state)},
    )
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [message]
    assert "local Azure emulator" not in res.stderr
    assert not state.exists()  # the emulator makes its state folder first thing
