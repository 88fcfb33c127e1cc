"""Running shard jobs: on Ray (one task per shard, bounded in flight, retried on crashes and
exceptions) or in-process (``runner.mode=local``, sequential, for debugging)."""
from __future__ import annotations

import functools
import logging
import os
import time
from collections import deque
from typing import Callable, Iterable

from datagen.runner.shards import ShardJob, make_shard

log = logging.getLogger(__name__)

OnDone = Callable[[ShardJob, dict], None]
OnFail = Callable[[ShardJob, str], None]


class Progress:
    """A tqdm bar over samples (rate and ETA) fed with per-shard counts of finished samples."""

    def __init__(self, total: int, initial: int, enabled: bool):
        from tqdm import tqdm

        self.base = initial
        self.partial: dict[int, int] = {}
        self.bar = tqdm(total=total, initial=initial, unit="sample", dynamic_ncols=True, disable=not enabled,
                        smoothing=0.1)

    def running(self, shard: int, finished: int) -> None:
        self.partial[shard] = finished
        self._show()

    def finished(self, shard: int, samples: int) -> None:
        self.partial.pop(shard, None)
        self.base += samples
        self._show()

    def _show(self) -> None:
        n = self.base + sum(self.partial.values())
        if n != self.bar.n:
            self.bar.update(n - self.bar.n)

    def close(self) -> None:
        self.bar.close()


def run_local(jobs: Iterable[ShardJob], progress: Progress, on_done: OnDone, on_fail: OnFail) -> None:
    for job in jobs:
        try:
            stats = make_shard(job, report=lambda shard, n, index: progress.running(shard, n))
        except Exception as e:
            on_fail(job, f"{type(e).__name__}: {e}".splitlines()[0])
            progress.finished(job.shard, 0)
            continue
        progress.finished(job.shard, job.num_samples)
        on_done(job, stats)


def connect(runner: dict) -> dict:
    """Make sure Ray is initialised: an existing connection; ``runner.address`` (``host:port``,
    ``ray://...``); ``auto``: ``RAY_ADDRESS`` if set, else a cluster running on this machine, else a new
    local Ray with ``runner.num_cpus`` CPUs (default: all cores); ``local``: always a new local Ray.
    Returns a description for the run summary."""
    import ray

    address = runner.get("address") or "auto"
    if not ray.is_initialized():
        if address == "auto" and os.environ.get("RAY_ADDRESS"):
            address = os.environ["RAY_ADDRESS"]  # set but unreachable is an error, not a local fallback
        if address == "auto":
            try:
                ray.init(address="auto")
            except ConnectionError:
                address = "local"
        elif address != "local":
            ray.init(address=address)
        if address == "local":
            ray.init(num_cpus=runner.get("num_cpus") or os.cpu_count(), include_dashboard=False)
        log.info("ray: %s", "started a local instance" if address == "local" else f"connected ({address})")
    resources = ray.cluster_resources()
    return {"nodes": len([n for n in ray.nodes() if n.get("Alive")]), "cpus": int(resources.get("CPU", 0)),
            "gcs_address": ray.get_runtime_context().gcs_address}


def run_ray(jobs: Iterable[ShardJob], runner: dict, progress: Progress, on_done: OnDone, on_fail: OnFail) -> None:
    import ray

    cpus = int(runner["cpus_per_task"])

    def max_in_flight() -> int:
        """``runner.max_in_flight``, or twice what the cluster can run now (re-read as it autoscales)."""
        return runner.get("max_in_flight") or max(2 * int(ray.cluster_resources().get("CPU", 0)) // cpus, 4)

    limit = max_in_flight()
    remote = ray.remote(_shard_task).options(num_cpus=cpus, num_gpus=float(runner.get("gpus_per_task") or 0),
                                             max_retries=int(runner["retries"]), retry_exceptions=True)
    # the tracker lives on the head node: a worker node that disappears must not take it along
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = NodeAffinitySchedulingStrategy(node_id=_head_node(), soft=True)
    tracker = _tracker_class().options(scheduling_strategy=here).remote()
    queue, pending = deque(jobs), {}
    last_poll = 0.0
    try:
        while queue or pending:
            while queue and len(pending) < limit:
                job = queue.popleft()
                pending[remote.remote(job, tracker)] = job
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
            for ref in ready:
                job = pending.pop(ref)
                try:
                    stats = ray.get(ref)
                except Exception as e:
                    on_fail(job, _task_error(e, job, tracker))
                    progress.finished(job.shard, 0)
                    continue
                progress.finished(job.shard, job.num_samples)
                on_done(job, stats)
            if time.monotonic() - last_poll > 0.5:
                last_poll, limit = time.monotonic(), max_in_flight()
                running = {j.shard for j in pending.values()}
                for shard, (n, _) in ray.get(tracker.snapshot.remote()).items():
                    if shard in running:
                        progress.running(shard, n)
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        ray.kill(tracker)


def _head_node() -> str:
    """The Ray head node's id (the driver's node when there is no marked head)."""
    import ray

    for node in ray.nodes():
        if node.get("Alive") and "node:__internal_head__" in (node.get("Resources") or {}):
            return node["NodeID"]
    return ray.get_runtime_context().get_node_id()


def _shard_task(job: ShardJob, tracker) -> dict:
    import ray

    deaths, reasons = ray.get(tracker.start.remote(job.shard))
    state = {"index": None, "since": time.monotonic()}

    def report(shard, n, index):
        # Wait for each report (~1 ms): if the worker dies, the tracker knows which sample it was making.
        state["index"], state["since"] = index, time.monotonic()
        ray.get(tracker.report.remote(shard, n, index))

    if job.sample_timeout_s:
        _watchdog(job, state, tracker)
    return make_shard(job, report=report, deaths=deaths, death_reasons=reasons)


def _watchdog(job: ShardJob, state: dict, tracker) -> None:
    """A sample that runs longer than ``job.sample_timeout_s`` (a hung render: C code Python cannot
    interrupt) ends its worker process: the tracker records why, Ray retries the task, and the retry
    records the sample as failed (with its seed) once it has timed out more than ``sample_retries``
    times, then writes the rest of the shard."""
    import signal
    import threading

    import ray

    def watch():
        while True:
            time.sleep(0.25)
            index = state["index"]
            if index is not None and time.monotonic() - state["since"] > job.sample_timeout_s:
                ray.get(tracker.note.remote(job.shard, index, f"timed out after {job.sample_timeout_s:g} s "
                                                                 "(runner.sample_timeout_s)"))
                os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, daemon=True, name="sample-watchdog").start()


def _task_error(e: Exception, job: ShardJob, tracker) -> str:
    """One line: why the task failed after its retries, and which sample it was making."""
    import ray

    cause = getattr(e, "cause", None) or e
    text = f"{type(cause).__name__}: {str(cause).strip().splitlines()[0] if str(cause).strip() else ''}"
    try:
        _, index = ray.get(tracker.snapshot.remote()).get(job.shard, (0, None))
    except Exception:
        index = None
    return text[:500] + (f" (while making sample {index})" if index is not None else "")


@functools.cache
def _tracker_class():
    import ray

    # restarted elsewhere if its node goes (its counts start again), calls retried until it is back
    @ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
    class Tracker:
        """Samples finished and the sample in progress per shard, reported by the running tasks, and how
        often an attempt died during each sample."""

        def __init__(self):
            self.state: dict[int, tuple[int, int | None]] = {}
            self.deaths: dict[tuple[int, int], int] = {}
            self.reasons: dict[tuple[int, int], str] = {}

        def start(self, shard: int) -> dict[int, int]:
            """A new attempt of ``shard`` begins: if the previous one stopped inside a sample, it died
            there. Returns ``{index: deaths}`` and ``{index: why}`` (when known) for the shard."""
            _, index = self.state.get(shard, (0, None))
            if index is not None:
                self.deaths[(shard, index)] = self.deaths.get((shard, index), 0) + 1
            self.state[shard] = (0, None)
            return ({i: n for (s, i), n in self.deaths.items() if s == shard},
                    {i: why for (s, i), why in self.reasons.items() if s == shard})

        def note(self, shard: int, index: int, why: str) -> None:
            """Why the attempt making sample ``index`` is about to die (e.g. a timeout)."""
            self.reasons[(shard, index)] = why

        def report(self, shard: int, finished: int, index: int | None) -> None:
            self.state[shard] = (finished, index)

        def snapshot(self) -> dict:
            return dict(self.state)

    return Tracker
