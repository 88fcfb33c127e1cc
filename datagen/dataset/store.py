"""The output location of a run: a local path or any fsspec URL (``s3://``, ``gs://``, ``file://``,
``memory://``), and the names of everything the runner writes there (``docs/data_format.md``)::

    OUT/dataset.json                   run summary (rewritten at the start and end of every run)
    OUT/shard-000000.tar               WebDataset shard, published by rename only when complete
    OUT/shard-000000.stats.json        written last: its presence marks the shard done
    OUT/shard-000000.tar.tmp-<hex>     an attempt in progress (or left by a killed worker)
"""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import fsspec

SUMMARY = "dataset.json"
SHARD_RE = re.compile(r"^shard-(\d{6,})\.(tar|stats\.json)$")
TMP_MARK = ".tmp-"


def shard_name(shard: int) -> str:
    return f"shard-{shard:06d}"


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

    def remove(self, name: str) -> None:
        try:
            self.fs.rm(self.path(name))
        except FileNotFoundError:
            pass


def _protocols(fs) -> tuple:
    proto = fs.protocol
    return proto if isinstance(proto, tuple) else (proto,)
