"""ray_cluster.yaml (AWS) and ray_cluster.local.yaml (on-prem) pass Ray's own offline validation
(what `ray up` runs before touching a provider) and install the project the way `make setup` does."""
from __future__ import annotations

import copy

import jsonschema
import pytest
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

from datagen.core.paths import REPO_ROOT


def load(name: str) -> dict:
    return yaml.safe_load((REPO_ROOT / name).read_text())


def prepared(config: dict) -> dict:
    config = prepare_config(copy.deepcopy(config))
    validate_config(config)
    return config


@pytest.mark.parametrize("name", ["ray_cluster.yaml", "ray_cluster.local.yaml"])
def test_cluster_configs_validate_and_install_the_project(name):
    raw = load(name)
    config = prepared(raw)
    assert config["file_mounts"]["~/counterfactory"] == "."
    setup = "\n".join(config["setup_commands"])
    assert "cd ~/counterfactory && " in setup and "make setup" in setup
    assert "python3.11" in setup
    for cmd in config["head_start_ray_commands"] + config["worker_start_ray_commands"]:
        assert "~/counterfactory/.venv/bin/ray" in cmd, "nodes must run the project's Ray"
    assert any("--head" in c for c in config["head_start_ray_commands"])


def test_aws_cluster_has_an_autoscaling_cpu_render_worker_type():
    config = prepared(load("ray_cluster.yaml"))
    assert config["provider"]["type"] == "aws"
    head = config["available_node_types"][config["head_node_type"]]
    assert head["resources"]["CPU"] == 0, "renders must not land on the head"
    worker = config["available_node_types"]["render_cpu"]
    assert worker["min_workers"] == 0 < worker["max_workers"] <= config["max_workers"]
    assert worker["resources"]["CPU"] >= 8
    assert worker["node_config"]["InstanceType"].startswith(("c", "m"))


def test_validation_catches_a_broken_config():
    config = load("ray_cluster.yaml")
    config["available_node_types"]["render_cpu"]["max_workerz"] = 4
    with pytest.raises(jsonschema.ValidationError, match="max_workerz"):
        prepared(config)
    config = load("ray_cluster.yaml")
    config["head_node_type"] = "nope"
    with pytest.raises(ValueError, match="head_node_type"):
        prepared(config)


def test_aws_cluster_has_a_gpu_render_worker_type():
    config = prepared(load("ray_cluster.yaml"))
    gpu = config["available_node_types"]["render_gpu"]
    assert gpu["resources"]["GPU"] == 1 and gpu["node_config"]["InstanceType"].startswith("g6")
