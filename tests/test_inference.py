"""Inference: tiny Vera and VOID models trained a few hundred steps on one of our clips sample their
training target back (far closer than the untrained model), Vera's delivered video is the source bit
for bit wherever alpha is 0, VOID's pass 2 and its automatic trigger run, long clips go through
temporal windows, and ``training/infer.py`` runs on our shards and on VOID's per-clip layout."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from datagen.core.paths import REPO_ROOT
from training.core.config import load_config
from training.inference.inputs import Clip, read_clips
from training.core.checkpoint import load_weights
from training.inference.runner import Runner, Settings, VoidOptions, composite_exact, keep_region
from training.tasks import TASKS
from training_data import make_dataset

FAST = ["trainer.tensorboard=false", "trainer.log_every=50", "text.max_length=24", "optim.warmup_steps=0",
        "trainer.activation_checkpointing=false"]
STEPS = 300


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Per model: one clip of ours and a tiny model trained STEPS steps on it (single process, on
    precomputed latents: the VAE runs once, not every step)."""
    from training.jobs.precompute import precompute
    from training.trainer.loop import train

    root = tmp_path_factory.mktemp("infer")
    out = {}
    for kind, gen in (("vera", "vera_layers"), ("void", "void_counterfactuals")):
        data = make_dataset(gen, root / f"{kind}-data", num_samples=1)
        run, latents = root / f"{kind}-run", root / f"{kind}-latents"
        precompute(load_config([f"model={kind}", f"data.path={data}", f"precompute.out={latents}", *FAST]))
        train(load_config([f"model={kind}", f"data.path={latents}", f"trainer.out={run}", *FAST,
                           f"trainer.max_steps={STEPS}", f"trainer.checkpoint_every={STEPS}", "optim.lr=3e-3",
                           "optim.min_lr_ratio=0.1", "flow.sampling=uniform"]))
        out[kind] = (data, run)
    return out


def runner_for(kind, data, checkpoint=None, **settings) -> Runner:
    from training.jobs.infer import build_runner

    chosen = {"checkpoint": str(checkpoint) if checkpoint else None, "steps": 20, "guidance": 1.0,
              "negative_prompt": "", "window": 0, "overlap": 1, **settings}
    cfg = load_config([f"model={kind}", f"data.path={data}", "trainer.out=/tmp/unused", "text.max_length=24",
                       *(f"infer.{k}={'null' if v is None else repr(v) if v == '' else v}" for k, v in chosen.items())],
                      name="infer")
    runner, _ = build_runner(cfg)
    return runner


def target_latent(runner: Runner, pixels: np.ndarray) -> torch.Tensor:
    from training.core.clips import Fit, video_tensor

    hw = pixels.shape[1:3]
    return runner.vae.encode(video_tensor(pixels, len(pixels), Fit(0, 0, hw, hw))[None])


@pytest.mark.render
@pytest.mark.train
@pytest.mark.parametrize("kind", ["vera", "void"])
def test_trained_models_sample_their_training_target_back(trained, kind):
    data, run = trained[kind]
    (clip,) = list(read_clips(str(data), TASKS[kind].reads))
    errors = {}
    for name, ckpt in (("trained", run), ("untrained", None)):
        runner = runner_for(kind, data, ckpt)
        t, fit = runner.fit(clip)
        if kind == "vera":
            got = runner.vera(clip)["latents"]["composite"]
            truth = runner.pixels(clip.truth["composite"], t, fit)
        else:
            got = runner.void_pass(clip)[1]["latent"]
            truth = runner.pixels(clip.truth["target_video"], t, fit)
        errors[name] = float((got - target_latent(runner, truth)).pow(2).mean())
    assert errors["trained"] < 0.25 * errors["untrained"], errors


@pytest.mark.render
@pytest.mark.train
def test_vera_delivers_the_source_exactly_where_alpha_is_zero(trained, tmp_path):
    from datagen.dataset.media import decode_mp4
    from training.inference.writing import write_clip

    data, run = trained["vera"]
    (clip,) = list(read_clips(str(data), TASKS["vera"].reads))
    runner = runner_for("vera", data, run)
    levels = runner.vera(clip)["alpha"]
    runner.settings.alpha_floor = int(np.median(levels)) + 1  # a tiny random VAE is far from exact zeros
    result = runner.vera(clip)
    zero = result["alpha"] == 0
    assert zero.any() and (result["alpha"] > 0).any()
    assert np.array_equal(result["final"][zero], result["source"][zero])
    folder = write_clip(tmp_path / "clip", result, {"test": True}, 12.0)
    assert np.array_equal(decode_mp4((folder / "result.mp4").read_bytes()), result["final"])  # lossless file
    # the relation itself, on synthetic layers
    rng = np.random.default_rng(0)
    src, edit = (rng.integers(0, 256, (2, 4, 6, 3), dtype=np.uint8) for _ in range(2))
    alpha = rng.choice(np.array([0, 0, 128, 255], np.uint8), (2, 4, 6))
    out = composite_exact(src, edit, alpha)
    assert np.array_equal(out[alpha == 0], src[alpha == 0]) and np.array_equal(out[alpha == 255], edit[alpha == 255])


@pytest.mark.render
@pytest.mark.train
def test_void_windows_pass2_and_its_trigger(trained):
    data, run = trained["void"]
    (clip,) = list(read_clips(str(data), TASKS["void"].reads))
    runner = runner_for("void", data, run, steps=4, window=1, overlap=0)  # 5 frames = 2 latent frames: 2 windows
    windowed, used = runner.void_pass(clip)
    assert windowed.shape == used["video"].shape
    never = runner.void(clip, VoidOptions(pass2="never"))
    assert not never["pass2_ran"] and "pass2" not in never and never["morphing"]["score"] >= 0
    auto_low = runner.void(clip, VoidOptions(pass2="auto", morph_threshold=-1.0))
    assert auto_low["pass2_ran"] and auto_low["flow_source"].startswith("DIS")
    assert not np.array_equal(auto_low["pass2"], auto_low["pass1"])
    auto_high = runner.void(clip, VoidOptions(pass2="auto", morph_threshold=2.0))
    assert not auto_high["pass2_ran"]
    stored = runner.void(clip, VoidOptions(pass2="always", flow="stored", keep_region=True, keep_dilation=1))
    assert stored["flow_source"] == "stored render flow"
    keep = keep_region(stored["pass2"], stored["source"], stored["quadmask"], 1)
    assert np.array_equal(keep, stored["final"])
    from datagen.labels.quadmask import KEEP, dilate

    outside = ~dilate(stored["quadmask"] != KEEP, 1)
    assert np.array_equal(stored["final"][outside], stored["source"][outside])


@pytest.mark.render
@pytest.mark.train
def test_ema_weights_are_used_when_saved(trained, tmp_path):
    from training.tasks import make_task

    data, run = trained["void"]
    task = make_task(load_config(["model=void", f"data.path={data}", "trainer.out=/tmp/x"]).model)
    model = task.build_model()
    info = load_weights(model, str(run), "auto")
    assert info["step"] == STEPS and info["ema"] is False  # this run saved no EMA weights
    with pytest.raises(ValueError, match="no EMA weights"):
        load_weights(task.build_model(), str(run), "true")


def _void_layout(root, clip: Clip):
    from datagen.dataset.media import encode_mask_mp4, encode_mp4

    folder = root / "clip_a"
    folder.mkdir(parents=True)
    (folder / "input_video.mp4").write_bytes(encode_mp4(clip.video, 12))
    (folder / "quadmask_0.mp4").write_bytes(encode_mask_mp4(clip.quadmask, 12))
    (folder / "prompt.json").write_text(json.dumps({"bg": "an empty tiled floor"}))
    return root


@pytest.mark.render
@pytest.mark.train
def test_infer_cli_on_shards_and_on_void_layout(trained, tmp_path):
    data, run = trained["void"]
    (clip,) = list(read_clips(str(data), TASKS["void"].reads))
    layout = _void_layout(tmp_path / "layout", clip)
    (read,) = list(read_clips(str(layout), TASKS["void"].reads))
    assert read.prompt == "an empty tiled floor" and np.array_equal(read.quadmask, clip.quadmask)
    for name, source in (("shards", data), ("layout", layout)):
        out = tmp_path / f"out-{name}"
        cmd = [sys.executable, "training/infer.py", "model=void", f"infer.input={source}", f"infer.out={out}",
               f"infer.checkpoint={run}", "infer.steps=3", "text.max_length=24", "void.pass2=always"]
        proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        (folder,) = [p for p in out.iterdir() if p.is_dir()]
        assert {"pass1.mp4", "pass2.mp4", "result.mp4", "preview.mp4", "preview.png", "settings.json"} <= \
            {p.name for p in folder.iterdir()}
        settings = json.loads((folder / "settings.json").read_text())
        assert settings["loaded"]["step"] == STEPS and settings["void"]["pass2_ran"]
    bad = subprocess.run([sys.executable, "training/infer.py", "model=void", f"infer.input={tmp_path / 'nowhere'}",
                          f"infer.out={tmp_path / 'x'}"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "no such folder" in bad.stderr


def test_settings_validate():
    with pytest.raises(ValueError, match="sampler"):
        Settings.defaults(sampler="ddim")
    with pytest.raises(ValueError, match="overlap"):
        Settings.defaults(window=4, overlap=4)
    assert Settings.defaults() == Settings.from_infer(load_config(["data.path=unused"], name="infer").infer)
    with pytest.raises(ValueError, match="pass2"):
        VoidOptions(pass2="sometimes")
