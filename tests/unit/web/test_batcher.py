"""The notification endpoint's group commit: what is submitted while a batch runs waits and
goes into the next batch, each caller gets its own result."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import anyio.to_thread
import pytest

from fintrust.web.notifications import MAX_BATCH, Batcher

pytestmark = pytest.mark.anyio


class Handler:
    """Doubles each item; the first batch waits until released (while others queue)."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, items: Sequence[int]) -> list[int | Exception]:
        self.batches.append(list(items))
        if len(self.batches) == 1:
            self.started.set()
            assert self.release.wait(timeout=30)
        return [ValueError(f"bad {i}") if i < 0 else i * 2 for i in items]


async def queue_behind_a_running_batch(
    batcher: Batcher[int, int], handler: Handler, items: list[int]
) -> list[asyncio.Task[int]]:
    first = asyncio.create_task(batcher.submit(0))
    await anyio.to_thread.run_sync(handler.started.wait)
    waiting = [asyncio.create_task(batcher.submit(i)) for i in items]
    await asyncio.sleep(0)  # let each task run up to its await: it has then queued its item
    handler.release.set()
    assert await first == 0
    return waiting


async def test_what_arrives_during_a_batch_goes_into_the_next_one() -> None:
    handler = Handler()
    batcher = Batcher(handler)
    waiting = await queue_behind_a_running_batch(batcher, handler, [1, 2, 3])
    assert [await task for task in waiting] == [2, 4, 6]
    assert handler.batches == [[0], [1, 2, 3]]


async def test_a_batch_holds_at_most_max_batch_items() -> None:
    handler = Handler()
    batcher = Batcher(handler)
    items = list(range(1, MAX_BATCH + 6))
    waiting = await queue_behind_a_running_batch(batcher, handler, items)
    assert [await task for task in waiting] == [i * 2 for i in items]
    assert [len(batch) for batch in handler.batches] == [1, MAX_BATCH, 5]


async def test_a_failed_item_raises_for_its_caller_only() -> None:
    handler = Handler()
    batcher = Batcher(handler)
    waiting = await queue_behind_a_running_batch(batcher, handler, [1, -1, 3])
    assert await waiting[0] == 2
    with pytest.raises(ValueError, match="bad -1"):
        await waiting[1]
    assert await waiting[2] == 6


async def test_a_caller_that_goes_away_does_not_stop_the_others() -> None:
    handler = Handler()
    batcher = Batcher(handler)
    waiting = await queue_behind_a_running_batch(batcher, handler, [1, 2])
    waiting[0].cancel()
    assert await waiting[1] == 4
    assert handler.batches == [[0], [1, 2]]  # handled all the same: Trustly's answer is stored
    assert await batcher.submit(5) == 10  # and the batcher goes on


async def test_a_handler_that_raises_fails_its_whole_batch() -> None:
    def broken(items: Sequence[int]) -> list[int | Exception]:
        raise RuntimeError("database down")

    batcher: Batcher[int, int] = Batcher(broken)
    with pytest.raises(RuntimeError, match="database down"):
        await batcher.submit(1)


class Gated:
    """Doubles each item; every batch waits until the test lets it go."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.started = threading.Semaphore(0)
        self.go = threading.Semaphore(0)

    def __call__(self, items: Sequence[int]) -> list[int | Exception]:
        self.batches.append(list(items))
        self.started.release()
        assert self.go.acquire(timeout=30)
        return [i * 2 for i in items]

    async def running(self) -> None:
        """Until a batch has started (the handler runs in a worker thread)."""
        assert await anyio.to_thread.run_sync(self.started.acquire, True, 30)


async def test_under_load_the_next_batch_lingers_until_max_batch_wait() -> None:
    gated = Gated()
    batcher = Batcher(gated, linger=60.0)  # ends only when MAX_BATCH items wait
    with anyio.fail_after(30):
        tasks = [asyncio.create_task(batcher.submit(0))]
        await gated.running()  # [0]
        tasks += [asyncio.create_task(batcher.submit(i)) for i in (1, 2)]
        await asyncio.sleep(0)  # 1 and 2 queue behind [0]
        gated.go.release()
        await gated.running()  # [1, 2]: the batch after a quiet moment did not wait
        tasks.append(asyncio.create_task(batcher.submit(3)))
        await asyncio.sleep(0)
        gated.go.release()  # [1, 2] was a batch of two: the next one lingers for more
        for i in range(4, 3 + MAX_BATCH):
            await asyncio.sleep(0)
            assert len(gated.batches) == 2  # still lingering
            tasks.append(asyncio.create_task(batcher.submit(i)))
        await gated.running()
        gated.go.release()
        assert [await task for task in tasks] == [i * 2 for i in range(3 + MAX_BATCH)]
    assert gated.batches == [[0], [1, 2], list(range(3, 3 + MAX_BATCH))]


async def test_after_a_batch_of_one_nothing_lingers() -> None:
    gated = Gated()
    batcher = Batcher(gated, linger=60.0)
    with anyio.fail_after(30):  # a linger of 60 s would fail this
        first = asyncio.create_task(batcher.submit(0))
        await gated.running()
        second = asyncio.create_task(batcher.submit(1))
        await asyncio.sleep(0)
        gated.go.release()
        await gated.running()
        gated.go.release()
        assert (await first, await second) == (0, 2)
        gated.go.release()
        assert await batcher.submit(2) == 4  # alone again: no wait either
    assert gated.batches == [[0], [1], [2]]
