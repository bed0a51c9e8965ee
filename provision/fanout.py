"""Bounded fan-out of one tenant's requests over the engine's shared thread pool.

Jobs on the pool are leaves: a job runs its Azure calls and returns; it never waits for other
pool jobs. Only the tenant's own thread waits (`map`, `run`), so the pool cannot fill with jobs
waiting for jobs that sit in its queue. The rule is enforced, not just documented: every job
started here runs marked as a leaf, and `map` or `run` called from inside one raises at once.
A tenant's step is therefore written as a sequence of batches (provision.tenant.read), each a
set of independent leaves started and awaited from the tenant's thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Requests of one tenant in flight at once (the fleet-wide bound is Clients.max_concurrency).
# 16 lets a tenant of up to 5 users (15 files) upload every file in one round of round trips.
PER_TENANT_CONCURRENCY = 16

_leaf = threading.local()


class NestedWait(RuntimeError):
    """A pool job tried to wait for other pool jobs (a bug: see the module docstring)."""


def _as_leaf(fn: Callable[[], R]) -> R:
    _leaf.active = True
    try:
        return fn()
    finally:
        _leaf.active = False


def _refuse_nested(what: str) -> None:
    if getattr(_leaf, "active", False):
        raise NestedWait(f"{what} called from a pool job: only a tenant's thread may wait")


class Slot(Generic[R]):
    """Where one job's answer lands once its batch has run."""

    def __init__(self) -> None:
        self._set = False
        self._value: Any = None

    def fill(self, value: R) -> None:
        self._value, self._set = value, True

    @property
    def value(self) -> R:
        if not self._set:
            raise RuntimeError("the batch holding this job has not run")
        return self._value  # type: ignore[no-any-return]


class Batch:
    """Independent jobs of any kinds, run in one window (one round of round trips).

    `add` returns the job's slot, so each answer is read by name, never by its position.
    """

    def __init__(self) -> None:
        self._jobs: list[tuple[Slot[Any], Callable[[], Any]]] = []

    def add(self, job: Callable[[], R]) -> Slot[R]:
        slot: Slot[R] = Slot()
        self._jobs.append((slot, job))
        return slot

    def __len__(self) -> int:
        return len(self._jobs)


class Fanout:
    """Runs jobs on a shared pool, at most `width` at a time, from a tenant's thread."""

    def __init__(self, pool: Executor, width: int = PER_TENANT_CONCURRENCY) -> None:
        self.pool = pool
        self.width = width

    def submit(self, fn: Callable[[], R]) -> Future[R]:
        """Start one leaf now; the caller (a tenant's thread) waits for it later."""
        _refuse_nested("submit")
        return self.pool.submit(_as_leaf, fn)

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """A sliding window, not chunks: the next item starts as soon as any one finishes, so
        one slow item does not hold back a whole chunk. The first failure seen is raised.
        """
        _refuse_nested("map")
        todo = list(items)
        if len(todo) <= 1:
            return [fn(i) for i in todo]
        out: dict[int, R] = {}
        queue = iter(enumerate(todo))
        running: dict[Future[R], int] = {}

        def start_next() -> None:
            nxt = next(queue, None)
            if nxt is not None:
                item = nxt[1]
                running[self.pool.submit(_as_leaf, lambda: fn(item))] = nxt[0]

        for _ in range(self.width):
            start_next()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for f in done:
                out[running.pop(f)] = f.result()
                start_next()
        return [out[i] for i in range(len(todo))]

    def run_all(self, jobs: Iterable[Callable[[], R]]) -> list[R]:
        """Independent jobs of one kind in one window (one round of round trips)."""
        return self.map(lambda job: job(), jobs)

    def run(self, batch: Batch) -> None:
        """Run every job of `batch` in one window and fill their slots."""
        answers = self.map(lambda pair: pair[1](), batch._jobs)
        for (slot, _), answer in zip(batch._jobs, answers, strict=True):
            slot.fill(answer)
