"""The trainers on CPU at tiny sizes, on shards our generators wrote: config composition, the data
stream, encoders, precomputed latents, both models overfitting two samples under
``torchrun --nproc_per_node=2`` (gloo, FSDP2), exact resume, and a 2-process checkpoint loaded by one
process."""
from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys

import pytest
import torch
from omegaconf import OmegaConf

from datagen.core.paths import REPO_ROOT
from training.core.checkpoint import list_checkpoints
from training.core.clips import DataError, SampleStream, check_dataset, clip_frames
from training.core.config import load_config
from training.tasks import TASKS
from training.trainer.checks import check_config
from training.trainer.metrics import read_metrics
from training_data import make_dataset

FAST = ["trainer.tensorboard=false", "trainer.log_every=1", "text.max_length=24", "optim.warmup_steps=0"]


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp("training-data")
    return {"void": make_dataset("void_counterfactuals", root / "void"),
            "vera": make_dataset("vera_layers", root / "vera")}


def _cfg(kind, data, out, *overrides):
    return load_config([f"model={kind}", f"data.path={data}", f"trainer.out={out}", *FAST, *overrides])


def torchrun(nproc: int, *overrides: str, timeout: int = 900) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "training/train.py", *FAST, *overrides]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def python_train(*overrides: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "2", "PYTHONHASHSEED": "0"}
    return subprocess.run([sys.executable, "training/train.py", *FAST, *overrides], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=timeout, env=env)


# ------------------------------------------------------------------------------------------ config

@pytest.mark.parametrize("kind", ["vera", "void", "affect"])
@pytest.mark.parametrize("size", ["tiny", "1.3B", "14B"])
def test_config_composes(kind, size):
    from training.tasks.base import wan_config

    cfg = load_config([f"model={kind}", f"model.size={size}", "data.path=/d", "trainer.out=/o"])
    check_config(cfg)
    assert cfg.model.name == kind and cfg.trainer.out == "/o"
    wan = wan_config(cfg.model)
    dims = {"tiny": None, "1.3B": (1536, 30), "14B": (5120, 40)}[size]
    if dims:
        assert (wan.num_attention_heads * wan.attention_head_dim, wan.num_layers) == dims


def test_default_out_and_bad_configs():
    cfg = load_config(["model=void", "data.path=/d"])
    assert cfg.trainer.out == "runs/void-tiny"
    with pytest.raises(ValueError, match="data.path"):
        check_config(load_config([]))
    with pytest.raises(ValueError, match="model.size"):
        check_config(load_config(["data.path=/d", "model.size=7B"]))
    with pytest.raises(ValueError, match="trainer.max_steps"):
        check_config(load_config(["data.path=/d", "trainer.max_steps=0"]))


@pytest.mark.render
def test_cli_bad_input_is_one_line(tmp_path, datasets):
    proc = python_train("model=vera", f"data.path={tmp_path / 'nothing'}", f"trainer.out={tmp_path / 'o'}")
    assert proc.returncode == 2 and "no dataset.json" in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr, proc.stderr
    proc = python_train("model=vera", f"data.path={datasets['void']}", f"trainer.out={tmp_path / 'o'}")
    assert proc.returncode == 2 and "cannot train model=vera" in proc.stderr
    proc = python_train("model=void", "model.size=1.3B", f"data.path={datasets['void']}", f"trainer.out={tmp_path / 'o'}")
    assert proc.returncode == 2 and "vae.path= is required" in proc.stderr


# -------------------------------------------------------------------------------------------- data

@pytest.mark.render
def test_stream_is_deterministic_split_and_resumable(datasets):
    url = str(datasets["void"])
    assert check_dataset(url, TASKS["void"]) is False

    def keys(stream, n):
        return [s["__key__"] for s in itertools.islice(iter(stream), n)]

    a, b = SampleStream(url, ("caption",), seed=3), SampleStream(url, ("caption",), seed=3)
    assert keys(a, 7) == keys(b, 7)
    ranks = [keys(SampleStream(url, ("caption",), rank=r, world=2, seed=3), 4) for r in range(2)]
    for epoch in range(4):  # one sample per shard: each epoch the two ranks read different shards
        assert {ranks[0][epoch], ranks[1][epoch]} == {"00000000", "00000001"}
    full = SampleStream(url, ("caption",), seed=5)
    expected = keys(full, 9)
    first = SampleStream(url, ("caption",), seed=5)
    head = keys(first, 5)
    resumed = SampleStream(url, ("caption",), seed=5)
    resumed.load_state_dict(first.state_dict())
    assert head + keys(resumed, 4) == expected
    with pytest.raises(DataError, match="no samples"):
        keys(SampleStream(url, ("caption",), rank=2, world=3), 1)


def test_clip_frames():
    assert clip_frames(81, None) == 81 and clip_frames(50, None) == 49 and clip_frames(5, 5) == 5
    with pytest.raises(DataError, match="4k\\+1"):
        clip_frames(9, 8)
    with pytest.raises(DataError, match="only 5"):
        clip_frames(5, 9)


def test_clips_are_cropped_or_resized_to_multiples_of_16():
    import numpy as np

    from training.core.clips import flow_tensor, plan_fit, video_tensor

    fit = plan_fit(120, 208, None, None)  # the issues' 208x120 renders: centred crop, no resampling
    assert (fit.top, fit.left, fit.out_hw, fit.resized) == (4, 0, (112, 208), False)
    video = np.random.default_rng(0).integers(0, 256, (5, 120, 208, 3), dtype=np.uint8)
    x = video_tensor(video, 5, fit)
    assert x.shape == (3, 5, 112, 208)
    assert torch.equal(((x + 1) * 127.5).round().to(torch.uint8), torch.from_numpy(video[:, 4:116]).permute(3, 0, 1, 2))
    flow = np.zeros((5, 30, 52, 2), np.float16)
    flow[..., 1] = 3.0
    f = flow_tensor(flow, 5, (120, 208), fit)
    assert f.shape == (5, 112, 208, 2) and torch.allclose(f[..., 1], torch.tensor(3.0))
    resized = plan_fit(120, 208, 64, 96)
    assert resized.resized and video_tensor(video, 5, resized).shape == (3, 5, 64, 96)
    assert torch.allclose(flow_tensor(flow, 5, (120, 208), resized)[..., 1], torch.tensor(3.0 * 96 / 208))
    with pytest.raises(DataError, match="multiples of 16"):
        plan_fit(120, 208, 100, None)


def test_encoders_load_local_paths_only(tmp_path):
    from training.core.encoders import EncoderError, load_text_encoder, load_vae

    cfg = load_config(["data.path=/d"])
    with pytest.raises(EncoderError, match="vae.path=.*no such directory"):
        load_vae(OmegaConf.merge(cfg.vae, {"path": str(tmp_path / "vae")}), "tiny", torch.device("cpu"), torch.float32)
    tiny = load_vae(cfg.vae, "tiny", torch.device("cpu"), torch.float32)
    tiny.vae.save_pretrained(tmp_path / "vae")  # a real diffusers directory, read back from disk
    again = load_vae(OmegaConf.merge(cfg.vae, {"path": str(tmp_path / "vae")}), "1.3B", torch.device("cpu"), torch.float32)
    clip = torch.rand(1, 3, 5, 32, 48) * 2 - 1
    assert torch.equal(tiny.encode(clip), again.encode(clip)) and tiny.encode(clip).shape == (1, 16, 2, 4, 6)
    text = load_text_encoder(OmegaConf.merge(cfg.text, {"max_length": 16}), "tiny", 32, torch.device("cpu"), torch.float32)
    emb = text.encode(["a red ball", "x"])
    assert emb.shape == (2, 16, 32) and (emb[1, 3:] == 0).all() and (emb[0, :3] != 0).any()


# ------------------------------------------------------------------------ training under torchrun

STEPS, HALF = 40, 20
OVERFIT = [f"trainer.max_steps={STEPS}", f"trainer.checkpoint_every={HALF}", "trainer.keep_checkpoints=5",
           "optim.lr=2e-3", "optim.min_lr_ratio=1.0"]
EXTRA = {"vera": [], "void": ["model.noise=warped"],  # VOID runs its pass 2 (flow-warped noise)
         "affect": ["model.augment.flip=0"]}  # overfitting two samples: seen one way
KINDS = ("vera", "void", "affect")  # affect: the affected-region predictor, trained on the VOID shards


@pytest.fixture(scope="module")
def runs(datasets, tmp_path_factory):
    """Per model: an uninterrupted 2-process run, and a second one resumed from its halfway checkpoint."""
    out = {}
    for kind in KINDS:
        root = tmp_path_factory.mktemp(f"run-{kind}")
        full, resumed = root / "full", root / "resumed"
        args = [f"model={kind}", f"data.path={datasets['void' if kind == 'affect' else kind]}", *OVERFIT, *EXTRA[kind]]
        torchrun(2, *args, f"trainer.out={full}")
        half = full / "checkpoints" / f"step-{HALF:07d}"
        shutil.copytree(half, resumed / "checkpoints" / half.name)
        torchrun(2, *args, f"trainer.out={resumed}", "trainer.resume=auto")
        out[kind] = (full, resumed)
    return out


@pytest.mark.render
@pytest.mark.train
@pytest.mark.parametrize("kind", KINDS)
def test_two_processes_overfit_two_samples(runs, kind):
    full, _ = runs[kind]
    log = read_metrics(full)
    assert [m["step"] for m in log] == list(range(1, STEPS + 1))
    losses = [m["loss"] for m in log]
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.5 * first, f"loss {first:.3f} -> {last:.3f}"
    branches = {"vera": {"loss/edit", "loss/alpha", "loss/composite"}, "void": {"loss/target"},
                "affect": {"loss/bce", "loss/dice", "iou/changed"}}[kind]
    assert branches <= set(log[0]) and {"samples_per_s", "tokens_per_s", "lr", "grad_norm"} <= set(log[0])
    assert [p.name for p in list_checkpoints(full)] == [f"step-{HALF:07d}", f"step-{STEPS:07d}"]
    assert (full / "config.yaml").is_file()


@pytest.mark.render
@pytest.mark.train
@pytest.mark.parametrize("kind", KINDS)
def test_resume_continues_exactly(runs, kind):
    full, resumed = runs[kind]
    expected = [m for m in read_metrics(full) if m["step"] > HALF]
    got = read_metrics(resumed)
    assert [m["step"] for m in got] == list(range(HALF + 1, STEPS + 1))
    for a, b in zip(expected, got):
        assert a["loss"] == b["loss"] and a["grad_norm"] == b["grad_norm"], (a, b)


@pytest.mark.train
@pytest.mark.parametrize("kind", ["vera", "void"])
def test_fsdp_start_up_and_mixed_precision(kind, tmp_path):
    """Under torchrun: only rank 0 builds the full model and its weights reach every shard exactly
    (RoPE buffers recomputed); with bf16, blocks compute in bf16 on fp32 master weights and the
    timestep enters its embedding in fp32, and the EMA updates on the sharded parameters
    (tests/fsdp_checks.py)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "tests/fsdp_checks.py", kind, "unused", str(tmp_path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "ok full-weights-broadcast" in proc.stdout and "ok bf16-mixed-precision" in proc.stdout


def test_no_weight_decay_on_biases_norms_and_modulation():
    from training.core.sections import OptimConfig
    from training.tasks import make_task
    from training.trainer.optim import build_optimizer

    model = make_task(load_config(["model=void", "data.path=x"]).model).build_model()
    opt = build_optimizer(model, OptimConfig.from_section(load_config(["data.path=x"]).optim))
    decayed = {id(p) for p in opt.param_groups[0]["params"]}
    names = {n for n, p in model.named_parameters() if id(p) in decayed}
    assert names and all(model.get_parameter(n).ndim >= 2 and not n.endswith("modulation") for n in names)
    assert {"head.modulation", "blocks.0.modulation", "blocks.0.ffn.fc1.weight"} & names == {"blocks.0.ffn.fc1.weight"}
    assert opt.param_groups[1]["weight_decay"] == 0.0


@pytest.mark.render
@pytest.mark.train
def test_two_process_checkpoint_loads_in_one_process(runs, tmp_path):
    from torch.distributed.checkpoint.format_utils import dcp_to_torch_save

    from training.core import checkpoint as ckpt
    from training.core.runtime import init_runtime
    from training.trainer.loop import build

    full, _ = runs["vera"]
    path = full / "checkpoints" / f"step-{HALF:07d}"
    cfg = _cfg("vera", "unused", tmp_path / "one", *OVERFIT)
    rt = init_runtime("cpu", "auto")
    assert rt.world == 1 and not rt.distributed
    task, model, optimizer, scheduler, ema, fsdp = build(cfg, rt)
    step, data = ckpt.load(path, model, optimizer, scheduler, ema, rt)
    assert step == HALF and data["position"] == 0 and not fsdp
    dcp_to_torch_save(str(path), str(tmp_path / "full.pt"))
    saved = torch.load(tmp_path / "full.pt", weights_only=False)["model"]
    state = ckpt.full_model_state(model)
    assert set(saved) == set(state)
    assert all(torch.equal(saved[k], state[k]) for k in state)
    assert scheduler.last_epoch == HALF
    # trainer.init_from starts a new run (fresh optimiser) from those weights, e.g. VOID pass 2 from pass 1
    _, started, fresh_opt, *_ = build(_cfg("vera", "unused", tmp_path / "p2", f"trainer.init_from={path}"), rt)
    assert all(torch.equal(saved[k], v) for k, v in ckpt.full_model_state(started).items())
    assert not fresh_opt.state
    # and the command line continues that run on one process
    out = tmp_path / "continued"
    shutil.copytree(path, out / "checkpoints" / path.name)
    proc = python_train("model=vera", f"data.path={runs_data(runs)}", f"trainer.out={out}", *OVERFIT,
                        "trainer.max_steps=24", "trainer.resume=auto")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [m["step"] for m in read_metrics(out)] == [21, 22, 23, 24]


def runs_data(runs) -> str:
    import yaml

    return yaml.safe_load((runs["vera"][0] / "config.yaml").read_text())["data"]["path"]


@pytest.mark.render
@pytest.mark.train
def test_precomputed_latents_train_exactly_like_raw_clips(datasets, tmp_path):
    from training.trainer.loop import train
    from training.jobs.precompute import precompute

    cfg = _cfg("void", datasets["void"], tmp_path / "raw", "trainer.max_steps=3", "trainer.checkpoint_every=3",
               "model.noise=warped", f"precompute.out={tmp_path / 'latents'}")
    assert precompute(cfg)["written"] == 2
    assert check_dataset(str(tmp_path / "latents"), TASKS["void"]) is True
    with pytest.raises(DataError, match="precomputed for model=void"):
        check_dataset(str(tmp_path / "latents"), TASKS["vera"])
    raw = train(cfg)
    lat = train(_cfg("void", tmp_path / "latents", tmp_path / "lat", "trainer.max_steps=3",
                     "trainer.checkpoint_every=3", "model.noise=warped"))
    assert [m["loss"] for m in raw] == [m["loss"] for m in lat]
    assert precompute(cfg)["written"] == 0  # finished shards are not redone
    # the affect model's latents: video latents plus its pixel masks (uint8), the same losses as raw clips
    affect = _cfg("affect", datasets["void"], tmp_path / "araw", "trainer.max_steps=3", "trainer.checkpoint_every=3",
                  f"precompute.out={tmp_path / 'alatents'}")
    assert precompute(affect)["written"] == 2
    raw = train(affect)
    lat = train(_cfg("affect", tmp_path / "alatents", tmp_path / "alat", "trainer.max_steps=3",
                     "trainer.checkpoint_every=3"))
    assert [m["loss"] for m in raw] == [m["loss"] for m in lat]


@pytest.mark.render
@pytest.mark.train
def test_ema_is_updated_checkpointed_and_resumed(datasets, tmp_path):
    from training.core import checkpoint as ckpt
    from training.core.runtime import init_runtime
    from training.trainer.loop import build, train

    args = ("trainer.ema.enabled=true", "trainer.ema.decay=0.5", "trainer.checkpoint_every=2", "optim.lr=1e-2")
    train(_cfg("vera", datasets["vera"], tmp_path / "a", "trainer.max_steps=2", *args))
    rt = init_runtime("cpu", "auto")
    cfg = _cfg("vera", datasets["vera"], tmp_path / "a", *args)
    _, model, optimizer, scheduler, ema, _ = build(cfg, rt)
    initial = {k: v.clone() for k, v in ema.state_dict().items()}
    ckpt.load(ckpt.list_checkpoints(tmp_path / "a")[-1], model, optimizer, scheduler, ema, rt)
    from training.core.ema import _clean
    params = {_clean(n): p for n, p in model.named_parameters()}
    shadow = ema.state_dict()
    name = next(n for n in shadow if n.endswith("experts.edit.ffn.fc1.weight"))
    # after two updates at decay 0.5 the EMA differs from both the initial and the trained weights
    assert not torch.equal(shadow[name], params[name]) and not torch.equal(shadow[name], initial[name])
    with pytest.raises(ValueError, match="no EMA"):
        train(_cfg("vera", datasets["vera"], tmp_path / "b", "trainer.max_steps=2", "trainer.checkpoint_every=2"))
        train(_cfg("vera", datasets["vera"], tmp_path / "b", "trainer.max_steps=3", "trainer.resume=auto", *args))
