"""The affected-region predictor (``model=affect``): the mask folding is lossless and on the VAE's grid, the
model predicts every frame and pixel, Wan weights load into its backbone, inputs and outputs follow VOID's
layout, and (the done-when test) a tiny model trained on two of our clips predicts their affected region
far better than the two weightless baselines; its quadmasks pass our validator and VOID's snapping, and
``model=void`` inference runs on them."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from datagen.core.paths import REPO_ROOT
from datagen.labels import quadmask as qm
from training.evaluation import scores as S
from training.models.affect import AffectModel, CELL, build_affect_model, fold, unfold
from training.models.wan import WanConfig
from training_data import make_dataset

FAST = ["trainer.tensorboard=false", "optim.warmup_steps=0", "trainer.activation_checkpointing=false"]


def test_fold_is_lossless_and_on_the_vae_grid():
    g = torch.Generator().manual_seed(0)
    mask = torch.rand(2, 9, 16, 32, generator=g)
    folded = fold(mask)
    assert folded.shape == (2, CELL, 3, 2, 4)  # latent frames (9-1)/4+1, pixels / 8
    assert torch.equal(unfold(folded), mask)
    # latent frame 1, cell (row 1, col 2) holds frames 1..4, pixels rows 8..15, cols 16..23
    assert torch.equal(folded[1, :, 1, 1, 2].reshape(4, 8, 8), mask[1, 1:5, 8:16, 16:24])
    # the first latent frame holds frame 0 alone (repeated), as the Wan VAE encodes it
    assert torch.equal(folded[0, :, 0, 0, 0].reshape(4, 8, 8), mask[0, :1, :8, :8].expand(4, 8, 8))
    with pytest.raises(ValueError, match="4k\\+1"):
        fold(mask[:, :8])


def test_the_model_predicts_every_frame_and_pixel_from_both_inputs():
    torch.manual_seed(0)
    model = AffectModel(WanConfig.preset("tiny"), inputs=["latent"])
    latent = torch.randn(1, 16, 3, 4, 6)
    obj = torch.zeros(1, 9, 32, 48)
    obj[:, :, 8:20, 16:30] = 1
    logits = model(latent, obj)
    assert logits.shape == (1, 9, 32, 48)
    assert abs(float(torch.sigmoid(logits.detach()).mean()) - 0.05) < 0.05  # starts at the prior: few pixels change
    logits.sum().backward()
    w = model.embed.patch_embed.weight.grad
    assert w[:, :16].abs().sum() > 0 and w[:, 16:].abs().sum() > 0  # video latents and the mask both matter
    with torch.no_grad():
        assert not torch.allclose(model(latent, obj), model(latent, torch.zeros_like(obj)))


def test_pixels_are_an_input_folded_like_the_mask():
    """``model.inputs``: the video's pixels, folded onto the latent grid, change the prediction; a model
    of pixels alone needs no latent; a missing input is named."""
    torch.manual_seed(0)
    model = AffectModel(WanConfig.preset("tiny"), inputs=["pixels", "latent"])
    assert model.inputs == ("latent", "pixels")  # latent first, whatever the order asked
    assert model.embed.patch_embed.in_channels == 16 + 3 * CELL + CELL
    latent, obj = torch.randn(1, 16, 3, 4, 6), torch.zeros(1, 9, 32, 48)
    obj[:, :, 8:20, 16:30] = 1
    video = torch.rand(1, 3, 9, 32, 48) * 2 - 1
    with torch.no_grad():
        assert not torch.allclose(model(latent, obj, video), model(latent, obj, video.flip(-1)))
        with pytest.raises(ValueError, match="pixels"):
            model(latent, obj)
        alone = AffectModel(WanConfig.preset("tiny"), inputs=["pixels"])
        assert alone(None, obj, video).shape == (1, 9, 32, 48)
    with pytest.raises(ValueError, match="model.inputs"):
        AffectModel(WanConfig.preset("tiny"), inputs=["rgb"])


def test_augmentation_keeps_inputs_and_target_on_the_same_pixels():
    """A crop cuts latents on whole tokens and pixels, masks and target on the same 8-pixel cells; a
    mirror flips them all. Each tensor here holds its cell's (row, column) so a misalignment shows."""
    from training.core.config import load_config
    from training.tasks import make_task

    task = make_task(load_config(["model=affect", "data.path=x", "model.augment.flip=1",
                                  "model.augment.crop=0.5"]).model)
    f, h, w = 3, 8, 12  # latent grid
    rows = torch.arange(h).view(h, 1).expand(h, w).float()
    cols = torch.arange(w).view(1, w).expand(h, w).float()
    cell = rows * 100 + cols
    pixel = cell.repeat_interleave(8, 0).repeat_interleave(8, 1)  # (64, 96): each pixel holds its cell
    lat = {"video": cell.expand(1, 16, f, h, w).clone(), "object": pixel.expand(1, 9, 64, 96).clone(),
           "changed": pixel.expand(1, 9, 64, 96).clone(), "pixels": pixel.expand(1, 3, 9, 64, 96).clone()}
    seen = set()
    for step in range(8):
        out = task.augment(lat, torch.Generator().manual_seed(step))
        v = out["video"][0, 0, 0]
        assert v.shape == (4, 6)  # half the grid, whole 2x2 tokens
        expected = v.repeat_interleave(8, 0).repeat_interleave(8, 1)
        for k in ("object", "changed"):
            assert torch.equal(out[k][0, 0], expected), k
        assert torch.equal(out["pixels"][0, 1, 0], expected)
        assert bool((v[:, :-1] > v[:, 1:]).all())  # mirrored: columns run right to left
        seen.add(int(v[0, -1]))
    assert len(seen) > 2  # the crop moves
    plain = make_task(load_config(["model=affect", "data.path=x", "model.augment.flip=0"]).model)
    assert plain.augment(lat, torch.Generator().manual_seed(0)) == lat
    for bad, match in (("model.augment.flip=2", "augment.flip"), ("model.augment.crop=0", "augment.crop"),
                       ("model.inputs=[rgb]", "model.inputs")):
        with pytest.raises(ValueError, match=match):
            make_task(load_config(["model=affect", "data.path=x", bad]).model)


def test_wan_weights_load_into_the_backbone(tmp_path):
    from diffusers import WanTransformer3DModel

    from training.core.config import load_config
    from training.tasks import make_task

    cfg = WanConfig.preset("tiny")
    torch.manual_seed(3)
    WanTransformer3DModel(**cfg.to_dict()).save_pretrained(tmp_path / "wan")
    from training.models.wan_checkpoint import wan_from_pretrained

    base = wan_from_pretrained(tmp_path / "wan")
    model = build_affect_model(cfg, str(tmp_path / "wan"))
    own, ref = model.state_dict(), base.state_dict()
    assert torch.equal(own["blocks.1.ffn.fc2.weight"], ref["blocks.1.ffn.fc2.weight"])
    assert torch.equal(own["embed.patch_embed.weight"][:, :16], ref["embed.patch_embed.weight"])
    assert not own["embed.patch_embed.weight"][:, 16:].any()  # the pixel and mask channels start at 0
    assert own["head.proj.weight"].shape[0] == CELL * 4  # a new head: 256 logits per latent cell
    WanTransformer3DModel(**{**cfg.to_dict(), "num_layers": 3}).save_pretrained(tmp_path / "other")
    other = load_config(["model=affect", "data.path=x", f"model.pretrained={tmp_path / 'other'}"])
    with pytest.raises(ValueError, match="differs from model.size") as e:
        make_task(other.model).build_model()
    assert "\n" not in str(e.value)


def test_bad_affect_options_fail_in_one_line():
    from training.core.config import load_config
    from training.trainer.checks import check_config

    check_config(load_config(["model=affect", "data.path=d", "trainer.out=o"]))
    for bad, match in (("model.threshold=1.5", "model.threshold"), ("model.loss_weights.dice=-1", "dice"),
                       ("model.loss_weights.bce=0", "both be 0")):
        cfg = load_config(["model=affect", "data.path=d", "trainer.out=o", bad, *(
            ["model.loss_weights.dice=0"] if "bce=0" in bad else [])])
        with pytest.raises(ValueError, match=match) as e:
            check_config(cfg)
        assert "\n" not in str(e.value)


def test_quadmask_checks_and_baselines():
    removed = np.zeros((3, 8, 8), bool)
    removed[:, 2:4, 2:4] = True
    changed = np.zeros_like(removed)
    changed[:, 3:6, 3:6] = True
    q = qm.quadmask(removed, changed)
    assert qm.check_quadmask(q, removed) == []
    assert not np.isin(q[0], (qm.AFFECTED, qm.OVERLAP)).any() and (q[1] == qm.OVERLAP).any()
    bad = q.copy()
    bad[0, 7, 7] = qm.AFFECTED
    bad[1, 0, 0] = 200
    errors = qm.check_quadmask(bad, removed)
    assert any("frame 0" in e for e in errors) and any("outside" in e for e in errors)
    assert any("disagree" in e for e in qm.check_quadmask(q, np.zeros_like(removed)))
    none = S.affect_baseline(q, "none")
    assert set(np.unique(none)) == {qm.OBJECT, qm.KEEP}
    ring = S.affect_baseline(q, "dilated", 1)
    assert (ring[1:] == qm.AFFECTED).sum() == 2 * 12 and not (ring[0] == qm.AFFECTED).any()
    assert S.region_scores(S.affected_counts(q, q)) == {"iou": 1.0, "precision": 1.0, "recall": 1.0}
    empty = S.region_scores(S.affected_counts(none, q))
    assert empty["iou"] == 0.0 and empty["recall"] == 0.0 and empty["precision"] is None


def _write_video_inputs(folder, frames=7, h=40, w=56):
    """A folder of videos as a user brings them: NAME.mp4 and a segmenter's NAME.mask.mp4 (white object)."""
    from datagen.dataset.media import encode_rgb_lossless

    rng = np.random.default_rng(0)
    video = rng.integers(0, 255, (frames, h, w, 3), dtype=np.uint8)
    obj = np.zeros((frames, h, w), bool)
    obj[:, 10:22, 12:30] = True
    folder.mkdir()
    (folder / "clip.mp4").write_bytes(encode_rgb_lossless(video, 12))
    (folder / "clip.mask.mp4").write_bytes(encode_rgb_lossless(np.repeat((obj * 255).astype(np.uint8)[..., None], 3, -1), 12))
    return video, obj


def test_any_clip_size_gets_a_full_quadmask(tmp_path):
    """Odd frame counts and sizes that are not multiples of 16 are padded for the model and cut back: the
    quadmask covers every frame and pixel, its 0/63 are the object, frame 0 has no 127."""
    from training.core.config import load_config
    from training.inference.inputs import InputError, read_clips
    from training.jobs.infer import build_runner
    from training.tasks import TASKS

    video, obj = _write_video_inputs(tmp_path / "in")
    (clip,) = read_clips(str(tmp_path / "in"), TASKS["affect"].reads)
    assert clip.quadmask.shape == obj.shape and np.array_equal(clip.quadmask == qm.OBJECT, obj)
    cfg = load_config(["model=affect", "data.path=x", "infer.steps=1", "infer.window=0", "infer.overlap=1"],
                      name="infer")
    runner, _ = build_runner(cfg)
    assert runner.text is None  # the affect model reads no prompt
    out = runner.affect(clip, threshold=0.01)  # untrained: a low threshold so that something is marked
    q = out["quadmask"]
    assert q.shape == obj.shape and out["probability"].shape == obj.shape
    assert qm.check_quadmask(q, obj) == []
    assert (q == qm.AFFECTED).any()
    (tmp_path / "in" / "clip.mask.mp4").unlink()
    with pytest.raises(InputError, match="clip.mask.mp4") as e:
        list(read_clips(str(tmp_path / "in"), TASKS["affect"].reads))
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("h,w", [(120, 208), (40, 56), (48, 64), (33, 17)])
def test_padding_keeps_the_training_crop_on_the_token_grid(h, w):
    """A tiny model memorises pixel positions within a latent cell: inference must put the centred crop
    the trainer used at the same place on the 16-pixel grid (a 4-pixel shift cost IoU 0.9 -> 0.24)."""
    from training.core.clips import plan_fit
    from training.inference.runner import grid_padding

    top, bottom, left, right = grid_padding(h, w)
    crop = plan_fit(h, w, None, None)
    assert (h + top + bottom) % 16 == 0 and (w + left + right) % 16 == 0
    assert (crop.top + top) % 16 == 0 and (crop.left + left) % 16 == 0
    assert max(top, bottom, left, right) < 16


def test_void_clip_layout_check(tmp_path):
    from datagen.dataset.media import encode_mask_mp4, encode_mp4, encode_rgb_lossless
    from datagen.void.layout import check_void_clips

    video = np.full((5, 32, 32, 3), 90, np.uint8)
    removed = np.zeros((5, 32, 32), bool)
    removed[:, 8:16, 8:16] = True
    changed = np.zeros_like(removed)
    changed[:, 16:24, 8:16] = True
    mask = qm.quadmask(removed, changed)
    for name, mask_bytes in (("good", encode_mask_mp4(mask, 12)),
                             ("lossy", encode_mp4(np.repeat(mask[..., None], 3, -1), 12, crf=40))):
        (tmp_path / name).mkdir()
        (tmp_path / name / "input_video.mp4").write_bytes(encode_rgb_lossless(video, 12))
        (tmp_path / name / "quadmask_0.mp4").write_bytes(mask_bytes)
        (tmp_path / name / "prompt.json").write_text(json.dumps({"bg": "a grey wall"}))
    lines = []
    assert check_void_clips(tmp_path, lines.append) == (1, 1)
    assert len(lines) == 1 and "lossy" in lines[0]


@pytest.mark.render
@pytest.mark.train
def test_a_tiny_model_learns_the_affected_region_and_void_runs_on_its_quadmasks(tmp_path):
    """Done when: a tiny model=affect run overfits two clips (IoU far above both baselines, whatever the
    ring's width), infer.py writes quadmasks that validate and survive VOID's snapping, the evaluation
    table prints, and model=void inference runs on the written folder."""
    from datagen.dataset.media import read_mask_mp4
    from datagen.validate import main as validate
    from training.core.config import load_config
    from training.jobs.evaluate import evaluate
    from training.jobs.infer import infer
    from training.jobs.precompute import precompute
    from training.trainer.loop import train

    data = make_dataset("void_counterfactuals", tmp_path / "data", num_samples=2)  # test_training's pairs
    latents, run = tmp_path / "latents", tmp_path / "run"
    precompute(load_config(["model=affect", f"data.path={data}", f"precompute.out={latents}", *FAST]))
    logged = train(load_config(["model=affect", f"data.path={latents}", f"trainer.out={run}", *FAST,
                                "trainer.max_steps=300", "trainer.checkpoint_every=300", "trainer.log_every=50",
                                "optim.lr=3e-3", "optim.min_lr_ratio=0.1", "model.augment.flip=0"]))  # overfit: no augmentation
    assert logged[-1]["loss"] < logged[0]["loss"]

    pred = tmp_path / "pred"  # the literal command
    done = subprocess.run([sys.executable, "training/infer.py", "model=affect", f"infer.input={data}",
                           f"infer.out={pred}", f"infer.checkpoint={run}"], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    clips = sorted(p for p in pred.iterdir() if p.is_dir())
    assert len(clips) == 2
    for clip in clips:
        mask = read_mask_mp4(clip / "quadmask_0.mp4")
        assert np.array_equal(qm.snap(mask), mask)  # VOID's reader snaps nothing away
        assert qm.check_quadmask(mask) == []
        assert json.loads((clip / "prompt.json").read_text())["bg"]
    assert validate([str(pred)]) == 0

    results = {}
    for dilation in (1, 2, 4, 8):
        report = evaluate(str(data), str(pred), out=str(tmp_path / f"report-{dilation}"), task="affect",
                          dilation=dilation)
        results[dilation] = report[data.name]["rows"]
    model_iou = results[1]["model"]["iou"]
    best_ring = max(r["dilated"]["iou"] for r in results.values())
    assert results[1]["ground truth"]["iou"] == 1.0 and results[1]["none"]["iou"] == 0.0
    assert model_iou > 0.75 and model_iou > 1.8 * best_ring, (model_iou, best_ring)
    assert (tmp_path / "report-1" / f"{data.name}.md").read_text().count("|") > 10

    cfg = load_config(["model=void", "data.path=x", f"infer.input={pred}", f"infer.out={tmp_path / 'void'}",
                       "infer.steps=2", "infer.limit=1", "infer.guidance=1", "void.pass2=never"], name="infer")
    (written,) = infer(cfg)  # VOID runs on the predicted quadmasks: no cloud service in the loop
    assert (written / "result.mp4").is_file()
