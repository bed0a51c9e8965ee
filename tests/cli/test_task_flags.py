"""Every task's flags and short options, as admins and CI scripts type them: pinned, so that
restructuring the tasks cannot rename, drop or re-letter one by accident."""

from __future__ import annotations

import pytest

from provision.tasks import ns

# task -> (long flag, short flag or None), in the order invoke lists them. invoke derives a short
# flag from the first free letter of the parameter name, in signature order ("-" for
# plan --delete-computes is what it derived), so the parameters' order is part of the interface.
RUN = [
    ("inventory", "i"),
    ("tenant", "t"),
    ("local", "l"),
    ("endpoints", "e"),
    ("json", "j"),
]
LIFECYCLE = [
    ("require-access", "r"),
    ("grant-access", "g"),
    ("prune", "p"),
    ("prune-max", "u"),
]
SIGN_IN = [("auth", None), ("allow-unencrypted-cache", None)]  # long only (LONG_ONLY)
PINNED: dict[str, list[tuple[str, str | None]]] = {
    "validate": [("inventory", "i"), ("json", "j"), ("check-secrets", "c"), ("templates", "t")],
    "render": [("inventory", "i"), ("out", "o"), ("tenant", "t"), ("templates", "e")],
    "plan": [
        *RUN,
        ("detailed-exitcode", "d"),
        ("templates", "m"),
        ("max-concurrency", "a"),
        ("storage-auth", "s"),
        *LIFECYCLE,
        ("delete-computes", "-"),
        ("no-secret-values", None),  # long only (provision.tasks.LONG_ONLY)
        ("allow-permanent-delete", None),  # long only
        *SIGN_IN,
    ],
    "apply": [
        *RUN,
        ("templates", "m"),
        ("max-concurrency", "a"),
        ("storage-auth", "s"),
        ("lock-timeout", "o"),
        *LIFECYCLE,
        ("delete-computes", "d"),
        ("break-lock", None),  # long only (provision.tasks.LONG_ONLY)
        ("allow-permanent-delete", None),  # long only
        *SIGN_IN,
    ],
    "verify": [
        *RUN,
        ("templates", "m"),
        ("max-concurrency", "a"),
        ("storage-auth", "s"),
        *SIGN_IN,
    ],
    "emulator": [
        ("state-dir", "s"),
        ("port", "p"),
        ("seed", "e"),
        ("faults", "f"),
        ("latency-ms", "l"),
        ("fault-seed", "a"),
    ],
    "patch-kernel": [
        ("config", "c"),
        ("kernel", "k"),
        ("all", "a"),
        ("mode", "m"),
        ("user-folder", "u"),
        ("revert", "r"),
        ("dry-run", "d"),
        ("strict", "s"),
        ("kernel-dir", "e"),
    ],
    "create-compute": [
        ("inventory", "i"),
        ("tenant", "t"),
        ("user", "u"),
        ("size", "s"),
        ("local", "l"),
        ("endpoints", "e"),
        *SIGN_IN,
    ],
    "matrix": [
        ("inventory", "i"),
        ("changed-since", "c"),
        ("chunks", "h"),
        ("tenant", "t"),
        ("templates", "e"),
    ],
    "bench": [
        ("tenants", "t"),
        ("users", "u"),
        ("secrets", "s"),
        ("latency-ms", "l"),
        ("max-concurrency", "m"),
        ("quick", "q"),
        ("json", "j"),
        ("profile", "p"),
        ("workers", "w"),
        ("scale", "c"),
        ("sizes", "i"),
        ("signin", None),  # long only
    ],
    "import": [
        ("tenant", "t"),
        ("config", "c"),
        ("inventory", "i"),
        ("secrets-dir", "s"),
        ("env-prefix", "e"),
        ("replace", "r"),
        ("ml-workspace", "m"),
        ("key-vault", "k"),
        ("subscription-id", "u"),
        ("resource-group", "o"),
        ("user", None),
        ("from-share", "f"),
        ("endpoints", "n"),
        ("local", "l"),
        *SIGN_IN,
    ],
}
PINNED["onboard"] = PINNED["apply"]
PINNED["demo-analyst"] = [("inventory", "i"), ("tenant", "t"), ("user", "u")]


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
