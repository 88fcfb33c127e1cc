"""The output location of a run: a local path or any fsspec URL (``s3://``, ``gs://``, ``file://``,
``memory://``), and the names of everything the runner writes there (``docs/data_format.md``)::

    OUT/dataset.json                   run summary (rewritten at the start and end of every run)
    OUT/shard-000000.tar               WebDataset shard, published by rename only when complete
    OUT/shard-000000.stats.json        written last: its presence marks the shard done
    OUT/shard-000000.tar.tmp-<hex>     an attempt in progress (or left by a killed worker)
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any, Iterator

import fsspec

SUMMARY = "dataset.json"
LOCK = ".counterfactory.lock"
LOCK_STALE_S = 600  # object stores: a lock whose heartbeat is older than this belongs to a dead run
SHARD_RE = re.compile(r"^shard-(\d{6,})\.(tar|stats\.json)$")
TMP_MARK = ".tmp-"


def shard_name(shard: int) -> str:
    return f"shard-{shard:06d}"


class LockedError(ValueError):
    """Another run is writing to the same output; the message is one line naming it."""


@dataclass
class Store:
    """fsspec filesystem + root path of a run's output."""
    url: str

    def __post_init__(self):
        self.fs, self.root = fsspec.core.url_to_fs(self.url)
        self.root = self.root.rstrip("/")

    def path(self, name: str) -> str:
        return f"{self.root}/{name}"

    def full_url(self, name: str) -> str:
        return self.fs.unstrip_protocol(self.path(name))

    @property
    def is_memory(self) -> bool:
        return "memory" in _protocols(self.fs)

    def listing(self) -> dict[str, int]:
        """``{file name: size}`` of everything directly under the root (nothing if it does not exist)."""
        self.fs.invalidate_cache()
        try:
            entries = self.fs.ls(self.root, detail=True)
        except FileNotFoundError:
            return {}
        return {e["name"].rstrip("/").rsplit("/", 1)[-1]: int(e.get("size") or 0)
                for e in entries if e.get("type") != "directory"}

    def tmp_path(self, name: str) -> str:
        return self.path(f"{name}{TMP_MARK}{uuid.uuid4().hex[:12]}")

    def publish(self, tmp: str, name: str) -> None:
        """Rename a finished temporary file to its final name (copy + delete on object stores)."""
        self.fs.mv(tmp, self.path(name))

    def write_bytes(self, name: str, data: bytes) -> None:
        """Write a small file under a temporary name, then rename it into place."""
        self.fs.makedirs(self.root, exist_ok=True)
        tmp = self.tmp_path(name)
        with self.fs.open(tmp, "wb") as f:
            f.write(data)
        self.publish(tmp, name)

    def write_json(self, name: str, obj: Any) -> None:
        self.write_bytes(name, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode())

    def read_json(self, name: str) -> Any:
        with self.fs.open(self.path(name), "rb") as f:
            return json.loads(f.read().decode())

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the output for one run. Local folders: an exclusive ``flock`` on ``.counterfactory.lock``
        (released by the kernel if the run dies). Object stores: a lock object with a heartbeat that a
        background thread refreshes; one older than ``LOCK_STALE_S`` is taken over. ``memory://``: no lock
        (one process). Raises ``LockedError`` naming the other run."""
        owner = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                          time.gmtime())}
        if self.is_memory:
            yield
            return
        self.fs.makedirs(self.root, exist_ok=True)
        if "file" in _protocols(self.fs) or "local" in _protocols(self.fs):
            import fcntl

            path = self.path(LOCK)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                other = os.read(fd, 4096).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise LockedError(f"{self.url} is being written by another run ({other}); wait for it or use "
                                  "another out=") from None
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps(owner).encode())
            try:
                yield
            finally:
                try:
                    os.unlink(path)
                finally:
                    os.close(fd)  # closing releases the flock
            return
        yield from self._object_lock(owner)

    def _object_lock(self, owner: dict) -> Iterator[None]:
        import threading

        name = LOCK
        if self.fs.exists(self.path(name)):
            held = self.read_json(name)
            if time.time() - float(held.get("heartbeat", 0)) < LOCK_STALE_S:
                raise LockedError(f"{self.url} is being written by another run ({held.get('host')}, pid "
                                  f"{held.get('pid')}, since {held.get('since')}); wait or use another out=")
        token = uuid.uuid4().hex
        stop = threading.Event()

        def beat():
            while not stop.wait(LOCK_STALE_S / 10):
                self.write_json(name, {**owner, "token": token, "heartbeat": time.time()})
        self.write_json(name, {**owner, "token": token, "heartbeat": time.time()})
        if self.read_json(name).get("token") != token:
            raise LockedError(f"{self.url}: another run took the lock at the same moment")
        thread = threading.Thread(target=beat, daemon=True, name="store-lock")
        thread.start()
        try:
            yield
        finally:
            stop.set()
            self.remove(name)

    def remove(self, name: str) -> None:
        try:
            self.fs.rm(self.path(name))
        except FileNotFoundError:
            pass


def _protocols(fs) -> tuple:
    proto = fs.protocol
    return proto if isinstance(proto, tuple) else (proto,)
