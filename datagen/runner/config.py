"""Hydra configuration of generator runs (``configs/datagen/``): loading, checking and hashing.
The command line that uses it is ``cli.py``."""
from __future__ import annotations

import hashlib
import json
from typing import Any

from omegaconf import DictConfig, OmegaConf

from datagen.core.paths import REPO_ROOT

CONFIG_DIR = REPO_ROOT / "configs" / "datagen"
# Keys that do not change a single byte of the data: where it goes, how it is run, debugging hooks.
NON_DATA_KEYS = ("out", "runner", "debug")
# Nested keys that say only where something runs or is read from: render threads and gpus, the folder of a
# manifest's archives (assets.data_dir).
NON_DATA_NESTED = (("render", "threads"), ("render", "gpus"), ("assets", "data_dir"))
# Keys added after datasets were written, left out at the value that makes what those datasets hold, so
# they keep their hash and resume: a GPU render.device is not byte-identical to the CPU's; assets.materials
# (keep) and assets.hdris (null) came with issue 23.
LATER_KEYS = {("render", "device"): "cpu", ("assets", "materials"): "keep", ("assets", "hdris"): None}
RUNNER_MODES = ("ray", "local")
BENCH_SEEDS = 1_000_000_000  # datagen.bench's reserved run seeds start here


class ConfigError(ValueError):
    """A bad configuration; its message is one line naming the key."""


def load_config(name: str, overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """Compose ``configs/datagen/<name>.yaml`` with Hydra overrides (for tests, benchmarks, notebooks)."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        return compose(config_name=name, overrides=list(overrides))


def to_plain(cfg: DictConfig | dict) -> dict:
    """The resolved config as plain JSON-able data."""
    if isinstance(cfg, DictConfig):
        missing = sorted(k for k in ("out", "generator") if OmegaConf.is_missing(cfg, k))
        if missing:
            raise ConfigError(f"{missing[0]}= is required (e.g. python datagen/toy_shapes.py out=/tmp/toy)")
        return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    return json.loads(json.dumps(cfg))


def check_config(plain: dict) -> None:
    """Raise ConfigError (one line) for a config the runner cannot run."""
    def need_int(key: str, value: Any, minimum: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(f"{key} must be an integer >= {minimum}, got {value!r}")

    for key in ("generator", "out"):
        if not isinstance(plain.get(key), str) or not plain[key]:
            raise ConfigError(f"{key}= is required (e.g. python datagen/toy_shapes.py out=/tmp/toy)")
    need_int("num_samples", plain.get("num_samples"), 1)
    need_int("samples_per_shard", plain.get("samples_per_shard"), 1)
    need_int("seed", plain.get("seed"), 0)
    if plain["seed"] >= BENCH_SEEDS and not (plain.get("runner") or {}).get("bench"):
        raise ConfigError(f"seed={plain['seed']}: seeds >= {BENCH_SEEDS} are reserved for benchmark splits "
                          "(python -m datagen.bench), so held-out data never shares a seed with training data")
    render = plain.get("render") or {}
    for key in ("width", "height", "frames", "spp"):
        need_int(f"render.{key}", render.get(key), 1)
    if not isinstance(render.get("fps"), (int, float)) or render["fps"] <= 0:
        raise ConfigError(f"render.fps must be a positive number, got {render.get('fps')!r}")
    runner = plain.get("runner") or {}
    if runner.get("mode") not in RUNNER_MODES:
        raise ConfigError(f"runner.mode must be one of {RUNNER_MODES}, got {runner.get('mode')!r}")
    need_int("runner.cpus_per_task", runner.get("cpus_per_task"), 1)
    gpus = runner.get("gpus_per_task", 0)
    if isinstance(gpus, bool) or not isinstance(gpus, (int, float)) or gpus < 0:
        raise ConfigError(f"runner.gpus_per_task must be a number >= 0, got {gpus!r}")
    device = render.get("device", "cpu")
    if device not in ("cpu", "cuda", "optix"):
        raise ConfigError(f"render.device={device!r}; choose from ('cpu', 'cuda', 'optix')")
    if device != "cpu" and runner.get("mode") == "ray" and not gpus:
        raise ConfigError(f"render.device={device} needs runner.gpus_per_task >= 1 (each task reserves its GPU)")
    need_int("runner.retries", runner.get("retries"), 0)
    need_int("runner.sample_retries", runner.get("sample_retries"), 0)
    if runner.get("max_in_flight") is not None:
        need_int("runner.max_in_flight", runner["max_in_flight"], 1)
    timeout = runner.get("sample_timeout_s")
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ConfigError(f"runner.sample_timeout_s must be null or a number of seconds > 0, got {timeout!r}")
        if runner.get("mode") != "ray":
            raise ConfigError("runner.sample_timeout_s needs runner.mode=ray (a hung render is stopped by ending "
                              "its worker process, which in-process runs cannot survive)")
    if runner.get("num_cpus") is not None:
        need_int("runner.num_cpus", runner["num_cpus"], 1)
    crf = (plain.get("io") or {}).get("video_crf")
    if crf is not None and (isinstance(crf, bool) or not isinstance(crf, int) or not 0 <= crf <= 51):
        raise ConfigError(f"io.video_crf must be null or an integer in 0..51, got {crf!r}")


def data_config(plain: dict) -> dict:
    """The part of the config that determines the data: everything but NON_DATA_KEYS, NON_DATA_NESTED and
    the LATER_KEYS at their old value (a GPU ``render.device`` counts, so a dataset never mixes devices)."""
    data = {k: v for k, v in plain.items() if k not in NON_DATA_KEYS}
    for section in {s for s, _ in (*NON_DATA_NESTED, *LATER_KEYS)}:
        if isinstance(data.get(section), dict):
            data[section] = {k: v for k, v in data[section].items()
                             if (section, k) not in NON_DATA_NESTED
                             and not ((section, k) in LATER_KEYS and v == LATER_KEYS[section, k])}
    return data


def config_hash(plain: dict) -> str:
    blob = json.dumps(data_config(plain), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def task_config(plain: dict, threads: int) -> DictConfig:
    """The read-only config a generator sees inside a task, with ``render.threads`` set."""
    cfg = OmegaConf.create(plain)
    if "render" in cfg:
        cfg.render.threads = int(threads)
    OmegaConf.set_struct(cfg, True)
    OmegaConf.set_readonly(cfg, True)
    return cfg
