"""One worker thread that owns the model: every prediction runs there, one call at a time, and
requests of the same kind that arrive close together run as one call (micro-batching).

    batcher = Batcher(wait_ms=5, max_batch=64)
    future = batcher.batch(("classify",), saved.predict, ["a fine film"])   # joins others for 5 ms
    future.result()                                                           # this request's results
    batcher.call(saved.predict, "ROMEO:")                                     # a call of its own

A single owner, rather than a thread per request, because a model is not ours to run from two
threads at once: a predictor switches it to eval mode and back (generate), and two concurrent
forward passes would only split the same cores. Batching is where the speed is: one padded
forward pass over 32 texts costs little more than one over a single text.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Job:
    fn: Callable[..., Any]
    inputs: Sequence[Any]                  # what fn reads: a batch's items, or a solo call's arguments
    key: Hashable | None                   # jobs of one key run as one call of fn; None: alone
    future: Future = field(default_factory=Future)


class Batcher:
    """Runs jobs in arrival order on one thread. A batched job waits up to `wait_ms` for later jobs
    of its key to join it, up to `max_batch` inputs in all; their inputs go through one call of
    the first job's function (same key, same function and options) and each job gets back its
    own slice of the results. If that call fails, each job runs alone, so one bad request fails
    only itself."""

    def __init__(self, *, wait_ms: float, max_batch: int) -> None:
        self.wait, self.max_batch = wait_ms / 1000, max_batch
        self.sizes: Counter[int] = Counter()       # requests per batched call -> how many such calls
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="rnnkit-serve-model", daemon=True)
        self._thread.start()

    @property
    def largest_batch(self) -> int:
        """The most requests one call has served so far."""
        return max(self.sizes, default=0)

    def batch(self, key: Hashable, fn: Callable[[list[Any]], Sequence[Any]], inputs: Sequence[Any]) -> Future:
        """A future of fn's results for `inputs` (one each), computed together with other jobs of `key`."""
        return self._put(Job(fn, list(inputs), key))

    def call(self, fn: Callable[..., Any], *args: Any) -> Future:
        """A future of fn(*args), computed on the worker thread alone."""
        return self._put(Job(fn, args, None))

    def close(self) -> None:
        """Finish the jobs already queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join()

    def _put(self, job: Job) -> Future:
        if not self._thread.is_alive():
            raise RuntimeError("the batcher is closed")
        self._queue.put(job)
        return job.future

    def _loop(self) -> None:
        held: deque[Job | None] = deque()          # taken from the queue while a batch of another key gathered
        while True:
            job = held.popleft() if held else self._queue.get()
            if job is None:
                for late in held:                  # jobs queued after close() was asked for
                    if late is not None and late.future.set_running_or_notify_cancel():
                        late.future.set_exception(RuntimeError("the server is shutting down"))
                return
            group = [job] if job.key is None else self._gather(job, held)
            self._run([j for j in group if j.future.set_running_or_notify_cancel()])   # skip callers gone

    def _gather(self, first: Job, held: deque[Job | None]) -> list[Job]:
        """`first` and the jobs of its key that are held or arrive within the wait, up to max_batch inputs."""
        group, size = [first], len(first.inputs)
        fits = lambda job: job is not None and job.key == first.key and size + len(job.inputs) <= self.max_batch
        for job in [j for j in held if fits(j)]:
            held.remove(job)
            group.append(job)
            size += len(job.inputs)
        deadline = time.monotonic() + self.wait
        while size < self.max_batch and (left := deadline - time.monotonic()) > 0:
            try:
                job = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if fits(job):
                group.append(job)
                size += len(job.inputs)
            else:
                held.append(job)                   # runs next, in its arrival order
                if job is None:
                    break
        return group

    def _run(self, group: list[Job]) -> None:
        if not group:
            return
        if group[0].key is None:
            settle(group[0], lambda: group[0].fn(*group[0].inputs))
            return
        self.sizes[len(group)] += 1
        if len(group) == 1:
            settle(group[0], lambda: checked(group[0].fn(list(group[0].inputs)), len(group[0].inputs)))
            return
        inputs = [x for job in group for x in job.inputs]
        try:
            results = checked(group[0].fn(inputs), len(inputs))
        except Exception:                          # find whose input it was: each alone
            for job in group:
                settle(job, lambda job=job: checked(job.fn(list(job.inputs)), len(job.inputs)))
            return
        start = 0
        for job in group:
            job.future.set_result(results[start:start + len(job.inputs)])
            start += len(job.inputs)


def checked(results: Sequence[Any], count: int) -> list[Any]:
    results = list(results)
    if len(results) != count:
        raise RuntimeError(f"a batched call returned {len(results)} results for {count} inputs")
    return results


def settle(job: Job, compute: Callable[[], Any]) -> None:
    """Runs `compute` and hands its result or exception to the job's caller; the worker goes on."""
    try:
        result = compute()
    except Exception as error:
        job.future.set_exception(error)
    else:
        job.future.set_result(result)
