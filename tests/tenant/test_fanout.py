"""A tenant's fan-out: jobs are leaves; only the tenant's thread waits (provision.fanout)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from provision.fanout import Batch, Fanout, NestedWait


def test_a_pool_job_that_waits_on_other_pool_jobs_is_refused() -> None:
    # Two threads, two tenants: if each tenant's job waited on jobs queued behind the other's,
    # the pool would stall. The refusal makes that impossible to write, not just documented.
    with ThreadPoolExecutor(max_workers=2) as pool:
        fan = Fanout(pool)

        def nested() -> list[int]:
            return fan.map(lambda i: i * 2, [1, 2, 3])

        with pytest.raises(NestedWait, match="only a tenant's thread may wait"):
            fan.run_all([nested, nested])


def test_batches_fill_each_slot_by_name_in_one_window() -> None:
    seen: set[str] = set()
    lock = threading.Lock()

    def job(value: str) -> str:
        with lock:
            seen.add(threading.current_thread().name)
        return value.upper()

    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="item") as pool:
        fan = Fanout(pool)
        batch = Batch()
        a = batch.add(lambda: job("a"))
        n = batch.add(lambda: len("four"))
        b = batch.add(lambda: job("b"))
        fan.run(batch)
    assert (a.value, n.value, b.value) == ("A", 4, "B")
    assert all(name.startswith("item") for name in seen)


def test_a_slot_is_not_read_before_its_batch_ran() -> None:
    batch = Batch()
    slot = batch.add(lambda: 1)
    with pytest.raises(RuntimeError, match="has not run"):
        _ = slot.value


def test_the_first_failure_of_a_batch_is_raised() -> None:
    def boom() -> None:
        raise ValueError("no such vault")

    with ThreadPoolExecutor(max_workers=2) as pool:
        batch = Batch()
        batch.add(lambda: 1)
        batch.add(boom)
        with pytest.raises(ValueError, match="no such vault"):
            Fanout(pool).run(batch)
