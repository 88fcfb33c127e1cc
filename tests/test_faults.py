"""Faults: a hung sample is stopped and recorded with its seed while the rest of its shard is written; a
second run on the same output refuses in one line; a multi-node Ray cluster (separate raylets on this
machine) spreads shards over its nodes and survives losing a worker node with nothing lost or doubled."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from datagen.runner import run
from datagen.runner.config import ConfigError
from datagen.runner.validate import validate
from runner_helpers import sample_keys, toy_config



@pytest.mark.ray
def test_a_hung_sample_times_out_and_the_shard_is_written(tmp_path):
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        out = tmp_path / "toy"
        result = run(toy_config(out, "num_samples=3", "samples_per_shard=3", "debug.hang_indices=[1]",
                                "runner.sample_timeout_s=2", "runner.retries=3", mode="ray"))
    finally:
        ray.shutdown()
    (failure,) = result.failures
    assert failure["index"] == 1 and "timed out after 2 s" in failure["error"] and failure["seed"] > 0
    stats = json.loads((out / "shard-000000.stats.json").read_text())
    assert stats["num_written"] == 2 and sample_keys(out) == ["00000000", "00000002"]
    with pytest.raises(ConfigError, match="needs runner.mode=ray"):
        run(toy_config(tmp_path / "local", "runner.sample_timeout_s=2"))


def test_a_second_run_on_the_same_output_refuses(tmp_path):
    out = tmp_path / "toy"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from datagen.dataset.store import Store\n"
        f"with Store({str(out)!r}).lock():\n    print('locked', flush=True); time.sleep(600)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ConfigError, match="is being written by another run") as e:
            run(toy_config(out))
        assert "\n" not in str(e.value) and str(holder.pid) in str(e.value)
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # a dead run's lock is released by the kernel
        holder.wait()
    assert run(toy_config(out)).ok and validate(str(out), emit=print) == (10, 0)
    assert not (out / ".counterfactory.lock").exists()


@pytest.mark.ray
def test_multi_node_cluster_spreads_shards_and_survives_losing_a_node(tmp_path):
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    workers = [cluster.add_node(num_cpus=1, resources={f"machine_{k}": 1}) for k in range(2)]
    cluster.wait_for_nodes()
    try:
        out = tmp_path / "spread"
        result = run(toy_config(out, "num_samples=12", "samples_per_shard=2", f"runner.address={cluster.address}",
                                "runner.max_in_flight=2", mode="ray"))
        assert result.ok and result.summary["run"]["ray"]["nodes"] == 3
        nodes = {json.loads(p.read_text())["node"] for p in out.glob("shard-*.stats.json")}
        assert len(nodes) == 2, nodes  # both workers made shards
        ray.shutdown()

        # now a worker node disappears while the run is going: its tasks are retried on the other one
        lost = tmp_path / "lost"
        env = {**os.environ, "RAY_ADDRESS": cluster.address}
        proc = subprocess.Popen([sys.executable, "datagen/toy_shapes.py", f"out={lost}", "num_samples=12",
                                 "samples_per_shard=2", "runner.max_in_flight=2", "runner.progress=false",
                                 "debug.sleep_s=1.0"], cwd=os.path.dirname(os.path.dirname(__file__)),
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        while time.time() < deadline and not list(lost.glob("shard-*.stats.json")):
            time.sleep(0.2)
        cluster.remove_node(workers[1])
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr[-3000:]
        keys = sample_keys(lost)
        assert keys == [f"{i:08d}" for i in range(12)], keys  # none lost, none twice
        assert validate(str(lost), emit=print) == (12, 0)
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()


@pytest.mark.parametrize("over, message", [
    (["render.device=cuda", "runner.gpus_per_task=1"], "Cycles sees no CUDA GPU on this machine"),
    (["render.device=metal"], "render.device"),
    (["render.device=cuda", "runner.mode=ray"], "needs runner.gpus_per_task >= 1"),
])
def test_a_gpu_render_where_there_is_none_fails_in_one_line(tmp_path, over, message):
    out = tmp_path / "gpu"
    with pytest.raises(ConfigError, match=message) as e:
        run(toy_config(out, *over))
    assert "\n" not in str(e.value) and not list(tmp_path.glob("gpu/*"))


def test_where_a_run_renders_is_not_its_data_identity_but_the_device_is():
    from datagen.runner.config import config_hash, load_config, to_plain

    def chash(*over):
        return config_hash(to_plain(load_config("toy_shapes", ["out=/tmp/x", *over])))
    assert chash() == chash("render.gpus=[0]") == chash("render.threads=4") == chash("runner.gpus_per_task=1")
    assert chash("render.device=cuda") != chash() != chash("render.device=optix")
