"""Micro-batching: requests that arrive within a few milliseconds of each other share one forward pass.
A pass takes at most `max_rows` rows; a request with more is taken a slice at a time and goes to the
back of the queue after each slice, so one large request cannot hold up the small ones behind it.
The forward pass runs in a worker thread, never on the event loop."""
from __future__ import annotations

import asyncio
from collections import deque
from typing import Callable

import numpy as np

from ..engine.activations import Activations, concat, num_rows, take


class Waiting:
    """One request's inputs, how many of its rows a pass has taken, and the probabilities so far."""

    def __init__(self, inputs: Activations, future: asyncio.Future):
        self.inputs, self.future = inputs, future
        self.rows, self.taken = num_rows(inputs), 0
        self.parts: list[np.ndarray] = []


Slice = tuple[Waiting, int, int]  # a request and the rows [start, stop) of it in one pass


class MicroBatcher:
    """`await predict(inputs)` gives `forward(inputs)`, computed together with the inputs of other
    requests waiting at the same time. `requests`, `rows` and `passes` count what was served."""

    def __init__(self, forward: Callable[[Activations], np.ndarray], *, max_rows: int, wait_s: float = 0.005):
        self.forward, self.max_rows, self.wait_s = forward, max_rows, wait_s
        self.requests = self.rows = self.passes = 0
        self._queue: deque[Waiting] = deque()
        self._arrived = asyncio.Event()
        self._worker: asyncio.Task | None = None

    def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._serve())

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)

    async def predict(self, inputs: Activations) -> np.ndarray:
        waiting = Waiting(inputs, asyncio.get_running_loop().create_future())
        self.requests += 1
        self._queue.append(waiting)
        self._arrived.set()
        return await waiting.future

    async def _serve(self) -> None:
        while True:
            batch = await self._next_batch()
            if batch:
                await self._run(batch)

    async def _next_batch(self) -> list[Slice]:
        """Wait for a request, then gather what arrives within wait_s, up to max_rows rows."""
        while not self._queue:
            self._arrived.clear()
            await self._arrived.wait()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_s
        batch: list[Slice] = []
        rows = 0
        while True:
            while self._queue and rows < self.max_rows:
                waiting = self._queue.popleft()
                if waiting.future.done():  # its client went away
                    continue
                start = waiting.taken
                waiting.taken = min(waiting.rows, start + self.max_rows - rows)
                rows += waiting.taken - start
                batch.append((waiting, start, waiting.taken))
                if waiting.taken < waiting.rows:
                    self._queue.append(waiting)  # the rest waits its turn behind the others
            remaining = deadline - loop.time()
            if rows >= self.max_rows or remaining <= 0:
                return batch
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                return batch

    async def _run(self, batch: list[Slice]) -> None:
        try:
            proba = await asyncio.to_thread(self._forward, batch)
        except Exception as exc:  # e.g. out of memory: every request in the pass gets the error
            for waiting, _, _ in batch:
                if not waiting.future.done():
                    waiting.future.set_exception(exc)
            return
        self.passes += 1
        self.rows += len(proba)
        offset = 0
        for waiting, start, stop in batch:
            waiting.parts.append(proba[offset:offset + stop - start])
            offset += stop - start
            if stop == waiting.rows and not waiting.future.done():
                waiting.future.set_result(np.concatenate(waiting.parts))

    def _forward(self, batch: list[Slice]) -> np.ndarray:
        return self.forward(concat([take(waiting.inputs, slice(start, stop)) for waiting, start, stop in batch]))
