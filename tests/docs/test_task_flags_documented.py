"""Every flag of every task is documented: its long form (`--prune-max`) appears in README.md
or a page under docs/. `invoke --help TASK` is not enough: a flag nobody can find in the
documentation is a flag nobody uses, or one used without knowing what it does."""

from __future__ import annotations

import re

import pytest
from invoke.collection import Collection
from markdown_docs import doc_files

from provision.tasks import ns


def task_flags(collection: Collection) -> list[tuple[str, str]]:
    """(task, --long-flag) for every flag of every task of the collection."""
    out: list[tuple[str, str]] = []
    for name in sorted(collection.task_names):
        for argument in collection[name].get_arguments():
            out.extend((name, f"--{n}") for n in argument.names if len(n) > 1)
    return out


def undocumented(flags: list[tuple[str, str]], text: str) -> list[str]:
    """The flags that `text` never mentions as a whole flag (`--prune` is not `--prune-max`)."""
    return [
        f"invoke {task} {flag}: documented nowhere in README.md or docs/"
        for task, flag in flags
        if not re.search(re.escape(flag) + r"(?![\w-])", text)
    ]


DOCUMENTATION = "\n".join(p.read_text(encoding="utf-8") for p in doc_files())
FLAGS = task_flags(ns)


def test_the_collection_has_the_tasks_and_flags_we_know() -> None:
    assert ("plan", "--prune-max") in FLAGS
    assert ("import", "--from-share") in FLAGS
    assert ("patch-kernel", "--kernel-dir") in FLAGS
    assert len({task for task, _ in FLAGS}) == len(ns.task_names)


@pytest.mark.parametrize(("task", "flag"), FLAGS, ids=[f"{t} {f}" for t, f in FLAGS])
def test_every_task_flag_is_documented(task: str, flag: str) -> None:
    assert undocumented([(task, flag)], DOCUMENTATION) == []


def test_an_undocumented_flag_is_named_with_its_task() -> None:
    flags = [("plan", "--prune"), ("plan", "--prune-max"), ("bench", "--sizes")]
    assert undocumented(flags, "use `--prune-max N` with care") == [
        "invoke plan --prune: documented nowhere in README.md or docs/",
        "invoke bench --sizes: documented nowhere in README.md or docs/",
    ]
