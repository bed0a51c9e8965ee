"""Every task's flags and short options, as admins and CI scripts type them: pinned, so that
restructuring the tasks cannot rename, drop or re-letter one by accident."""

from __future__ import annotations

import pytest

from provision.cli import program
from provision.tasks import LONG_ONLY, SHORT, ns

# task -> (long flag, short flag or None), in the order invoke lists them. The letters come from
# provision.tasks.SHORT, one meaning each across every task; destructive flags have none.
RUN = [
    ("inventory", "i"),
    ("tenant", "t"),
    ("local", "l"),
    ("endpoints", "e"),
    ("json", "j"),
]
LIFECYCLE = [
    ("require-access", "r"),
    ("grant-access", None),  # long only (provision.tasks.LONG_ONLY)
    ("prune", None),  # long only
    ("prune-max", None),
]
SIGN_IN = [("auth", None), ("allow-unencrypted-cache", None)]  # long only (LONG_ONLY)
PINNED: dict[str, list[tuple[str, str | None]]] = {
    "validate": [("inventory", "i"), ("json", "j"), ("check-secrets", None), ("templates", None)],
    "render": [("inventory", "i"), ("out", "o"), ("tenant", "t"), ("templates", None)],
    "plan": [
        *RUN,
        ("detailed-exitcode", "d"),
        ("templates", None),
        ("max-concurrency", None),
        ("storage-auth", None),
        *LIFECYCLE,
        ("delete-computes", None),  # long only
        ("no-secret-values", None),  # long only
        ("allow-permanent-delete", None),  # long only
        ("warn-expiry", None),  # long only
        ("out", "o"),
        *SIGN_IN,
        ("fresh", None),  # long only
    ],
    "apply": [
        *RUN,
        ("templates", None),
        ("max-concurrency", None),
        ("storage-auth", None),
        ("lock-timeout", None),
        *LIFECYCLE,
        ("delete-computes", None),  # long only
        ("break-lock", None),  # long only
        ("allow-permanent-delete", None),  # long only
        ("warn-expiry", None),  # long only
        ("yes", None),  # long only
        ("plan", None),  # long only
        *SIGN_IN,
        ("fresh", None),  # long only
    ],
    "verify": [
        *RUN,
        ("templates", None),
        ("max-concurrency", None),
        ("storage-auth", None),
        ("warn-expiry", None),  # long only
        *SIGN_IN,
        ("fresh", None),  # long only
    ],
    "rotate": [
        ("inventory", "i"),
        ("source", None),  # long only
        ("tenant", "t"),
        ("local", "l"),
        ("endpoints", "e"),
        ("json", "j"),
        ("templates", None),
        ("max-concurrency", None),
        ("storage-auth", None),
        ("lock-timeout", None),
        ("break-lock", None),  # long only
        *SIGN_IN,
    ],
    "emulator": [
        ("state-dir", None),
        ("port", "p"),
        ("seed", None),
        ("faults", "f"),
        ("latency-ms", None),
        ("fault-seed", None),
        ("throttle", None),  # long only
    ],
    "patch-kernel": [
        ("config", "c"),
        ("kernel", "k"),
        ("all", "a"),
        ("mode", "m"),
        ("user-folder", None),
        ("revert", None),  # long only
        ("dry-run", "n"),
        ("strict", None),
        ("kernel-dir", None),
    ],
    "create-compute": [
        ("inventory", "i"),
        ("tenant", "t"),
        ("user", "u"),
        ("size", None),
        ("local", "l"),
        ("endpoints", "e"),
        *SIGN_IN,
    ],
    "matrix": [
        ("inventory", "i"),
        ("changed-since", None),
        ("chunks", None),
        ("tenant", "t"),
        ("templates", None),
    ],
    "bench": [
        ("tenants", None),
        ("users", None),
        ("secrets", None),
        ("latency-ms", None),
        ("max-concurrency", None),
        ("quick", "q"),
        ("json", "j"),
        ("profile", None),
        ("workers", "w"),
        ("scale", None),
        ("sizes", None),
        ("throttle", None),  # long only
        ("signin", None),  # long only
    ],
    "import": [
        ("tenant", "t"),
        ("config", "c"),
        ("inventory", "i"),
        ("secrets-dir", "s"),
        ("env-prefix", None),
        ("replace", None),  # long only
        ("ml-workspace", None),
        ("key-vault", None),
        ("subscription-id", None),
        ("resource-group", None),
        ("user", "u"),
        ("from-share", None),
        ("endpoints", "e"),
        ("local", "l"),
        *SIGN_IN,
    ],
}
PINNED["ci-setup"] = [
    ("tenant", "t"),
    ("inventory", "i"),
    ("repo", None),  # long only
    ("apply", None),  # long only: it creates identities, roles and secrets
]
PINNED["discover"] = [
    ("tenant", "t"),
    ("inventory", "i"),
    ("secrets-dir", "s"),
    ("env-prefix", None),
    ("replace", None),  # long only
    ("ml-workspace", None),
    ("subscription-id", None),
    ("resource-group", None),
    ("endpoints", "e"),
    ("local", "l"),
    ("tenant-id", None),
    *SIGN_IN,
]
PINNED["onboard"] = PINNED["apply"]
PINNED["demo-analyst"] = [("inventory", "i"), ("tenant", "t"), ("user", "u")]

# Flags that delete, grant, replace or break something: never one mistyped letter away.
DESTRUCTIVE = {
    "delete-computes",
    "prune",
    "grant-access",
    "break-lock",
    "replace",
    "allow-permanent-delete",
    "yes",
    "revert",
}


def _flags(task_name: str) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for arg in ns[task_name].get_arguments():
        long, *short = arg.names
        out.append((long, short[0] if short else None))
    return out


def test_every_task_is_pinned() -> None:
    assert sorted(ns.task_names) == sorted(PINNED)


@pytest.mark.parametrize("task_name", sorted(PINNED))
def test_flags_and_short_options_are_unchanged(task_name: str) -> None:
    assert _flags(task_name) == PINNED[task_name]


def test_each_short_option_means_one_flag_across_every_task() -> None:
    meaning: dict[str, set[str]] = {}
    for task_name in ns.task_names:
        for long, short in _flags(task_name):
            if short is not None:
                meaning.setdefault(short, set()).add(long)
    two = {letter: sorted(longs) for letter, longs in meaning.items() if len(longs) > 1}
    assert not two, f"letters with two meanings: {two}"
    assert all(len(letter) == 1 and letter.isalpha() for letter in meaning), meaning


def test_the_console_scripts_own_flags_take_no_letter_a_task_uses() -> None:
    # invoke's own flags (--debug, --echo, --pty, ...) are read inside a task's flags too: a
    # letter of theirs would mean one thing in a task that has it and another where it does not
    core = {n for arg in program.core_args() for n in arg.names if len(n) == 1}
    assert core == {"h", "V"}
    tasks = {short for name in ns.task_names for _, short in _flags(name) if short is not None}
    assert not core & tasks


def test_no_destructive_or_long_only_flag_has_a_short_option() -> None:
    assert DESTRUCTIVE <= LONG_ONLY
    assert not LONG_ONLY & set(SHORT)
    for task_name in ns.task_names:
        for long, short in _flags(task_name):
            if long in LONG_ONLY:
                assert short is None, f"{task_name} --{long} has -{short}"
