"""The runner on a real local Ray with 2 CPUs: shards, crash retries, determinism across worker counts,
resume after a lost shard, and a task that fails for good."""
from __future__ import annotations

import json
import os

import pytest
import ray

from datagen.runner import run
from datagen.runner.driver import report
from datagen.runner.validate import validate
from runner_helpers import sample_keys, tar_bytes, toy_config

pytestmark = pytest.mark.ray

ALL_KEYS = [f"{i:08d}" for i in range(10)]


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The same dataset made in-process: what every Ray run must reproduce byte for byte."""
    out = tmp_path_factory.mktemp("reference")
    assert run(toy_config(out)).ok
    return tar_bytes(out)


def test_two_workers_make_k_shards_identical_to_one_worker_and_local(tmp_path, reference):
    outs = {}
    for workers in (1, 2):
        outs[workers] = tmp_path / f"w{workers}"
        result = run(toy_config(f"file://{outs[workers]}", f"runner.max_in_flight={workers}", mode="ray"))
        assert result.ok and sorted(result.made) == [0, 1, 2, 3]
        assert result.summary["run"]["ray"]["cpus"] == 2
    assert list(reference) == [f"shard-{i:06d}.tar" for i in range(4)]
    assert tar_bytes(outs[1]) == tar_bytes(outs[2]) == reference
    assert validate(str(outs[2]), emit=print) == (10, 0)
    hosts = {json.loads(p.read_text())["pid"] for p in outs[2].glob("*.stats.json")}
    assert len(hosts) >= 1


def test_a_worker_killed_once_is_retried_and_every_sample_is_there_once(tmp_path, reference):
    out, marker = tmp_path / "toy", tmp_path / "crashed"
    result = run(toy_config(out, "debug.crash_once_index=4", f"debug.crash_marker={marker}", mode="ray"))
    assert marker.exists(), "the worker was not killed"
    assert result.ok
    assert sample_keys(out) == ALL_KEYS
    assert tar_bytes(out) == reference
    assert not [p for p in out.iterdir() if ".tmp-" in p.name], "temporary files of the killed attempt remain"


def test_rerun_after_deleting_a_shard_regenerates_only_that_shard(tmp_path, reference):
    out = tmp_path / "toy"
    assert run(toy_config(out, mode="ray")).ok
    (out / "shard-000002.tar").unlink()
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("shard-*")}
    result = run(toy_config(out, mode="ray"))
    assert result.ok and result.made == [2] and result.skipped == [0, 1, 3]
    changed = sorted(p.name for p in out.glob("shard-*") if mtimes.get(p.name) != p.stat().st_mtime_ns)
    assert changed == ["shard-000002.stats.json", "shard-000002.tar"]
    assert tar_bytes(out) == reference


def test_a_task_that_keeps_failing_is_reported_with_its_samples(tmp_path, reference, capsys):
    out, marker = tmp_path / "toy", tmp_path / "crashed"
    overrides = ["debug.crash_once_index=7", f"debug.crash_marker={marker}", "runner.retries=0"]
    result = run(toy_config(out, *overrides, mode="ray"))
    assert not result.ok
    (failure,) = result.failures
    assert failure["tar"] == "shard-000002.tar" and failure["indices"] == [6, 8]
    assert "task failed after 0 retries" in failure["error"] and "while making sample 7" in failure["error"]
    assert report(result) == 1
    assert "FAILED shard-000002.tar samples 6-8: task failed" in capsys.readouterr().out
    assert not (out / "shard-000002.tar").exists() and not (out / "shard-000002.stats.json").exists()
    summary = json.loads((out / "dataset.json").read_text())
    assert summary["counts"]["failed_samples"] == 3 and summary["counts"]["failed_tasks"] == 1
    lines = []
    assert validate(str(out), emit=lines.append) == (7, 1)
    assert lines == ["shard-000002.tar: missing (samples 6-8)"]
    again = run(toy_config(out, *overrides, mode="ray"))  # the marker disarms the crash now
    assert again.ok and again.made == [2] and tar_bytes(out) == reference
    assert os.path.exists(marker)


def test_a_sample_that_always_kills_its_worker_is_recorded_and_its_shard_still_written(tmp_path, capsys):
    out = tmp_path / "toy"
    result = run(toy_config(out, "debug.crash_indices=[4]", mode="ray"))  # retries 3, sample_retries 1
    (failure,) = result.failures
    assert (failure["tar"], failure["index"]) == ("shard-000001.tar", 4)
    assert failure["error"] == "the worker process died while making this sample (2 times)"
    assert sample_keys(out) == [k for k in ALL_KEYS if k != "00000004"]
    assert json.loads((out / "shard-000001.stats.json").read_text())["status"] == "partial"
    assert report(result) == 1
    assert "FAILED shard-000001.tar sample 4 (key 00000004): the worker process died" in capsys.readouterr().out
