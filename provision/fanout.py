"""Bounded fan-out of one tenant's requests over the engine's shared thread pool.

A job on the pool that itself waits for other pool jobs (a `map` run inside a submitted job)
holds a thread while it waits. The engine's pool has 2 x C threads for at most C tenants in
flight, so each tenant may have at most one such waiting job at a time (its secret reads); every
other fan-out starts from the tenant's own thread. With two per tenant, C tenants could hold
every thread while the jobs they wait for sit in the queue.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Requests of one tenant in flight at once (the fleet-wide bound is Clients.max_concurrency).
# 16 lets a tenant of up to 5 users (15 files) upload every file in one round of round trips.
PER_TENANT_CONCURRENCY = 16


class Fanout:
    """Runs a function over items on a shared pool, at most `width` at a time, in input order."""

    def __init__(self, pool: Executor, width: int = PER_TENANT_CONCURRENCY) -> None:
        self.pool = pool
        self.width = width

    def submit(self, fn: Callable[[], R]) -> Future[R]:
        return self.pool.submit(fn)

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """A sliding window, not chunks: the next item starts as soon as any one finishes, so
        one slow item does not hold back a whole chunk. The first failure seen is raised.
        """
        todo = list(items)
        if len(todo) <= 1:
            return [fn(i) for i in todo]
        out: dict[int, R] = {}
        queue = iter(enumerate(todo))
        running: dict[Future[R], int] = {}

        def start_next() -> None:
            nxt = next(queue, None)
            if nxt is not None:
                running[self.pool.submit(fn, nxt[1])] = nxt[0]

        for _ in range(self.width):
            start_next()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for f in done:
                out[running.pop(f)] = f.result()
                start_next()
        return [out[i] for i in range(len(todo))]

    def run_all(self, jobs: Iterable[Callable[[], R]]) -> list[R]:
        """Independent jobs of different kinds in one window (one round of round trips)."""
        return self.map(lambda job: job(), jobs)
