"""The Task protocol's contract, run over every registered task (``training/tasks/``), in the style of diffusers'
tester mixins: a new model kind passes these or it does not load. Tiny random models, made-up clips: no render."""
from __future__ import annotations

import ast

import numpy as np
import pytest
import torch

from datagen.core.paths import REPO_ROOT
from datagen.dataset.generators import GENERATORS
from datagen.labels.quadmask import AFFECTED, KEEP, OBJECT, OVERLAP
from datagen.runner.generator import load_generator
from training.core.clips import collate
from training.core.config import load_config
from training.inference.inputs import Clip
from training.jobs.infer import build_runner
from training.tasks import TASKS, load_encoders, make_task, task_for_generator
from training.tasks.base import Task, check_task

NAMES = sorted(TASKS)
T, H, W = 5, 32, 48


def config(name: str, *overrides: str):
    return load_config([f"model={name}", "data.path=unused", "text.max_length=16", "infer.steps=2",
                        "infer.guidance=1", *overrides], name="infer")


def fake_sample(schema, seed: int = 0) -> dict:
    """A sample with every member of ``schema``, made up with the members' kinds and shapes: a quadmask of
    the four levels with a moving object, float flows at a quarter of the size, text and json."""
    rng = np.random.default_rng(seed)
    out = {"__key__": f"{seed:06d}"}
    for name, m in schema.items():
        if m.kind == "video":
            out[name] = rng.integers(0, 256, (T, H, W, 3), dtype=np.uint8)
        elif m.kind == "mask" and name == "quadmask":
            q = np.full((T, H, W), 255, np.uint8)
            for t in range(T):
                q[t, 8:20, 10 + t:22 + t] = 0
                q[t, 8:20, 22 + t:26 + t] = 127
                q[t, 18:20, 12 + t:16 + t] = 63
            out[name] = q
        elif m.kind == "mask":
            out[name] = rng.integers(0, 2, (T, H, W)).astype(m.dtype)
        elif m.kind == "array":
            shape = (T, H // 4, W // 4, 2) if m.ndim == 4 else (T, H // 4, W // 4)
            out[name] = rng.normal(size=shape).astype(m.dtype or "float32")
        elif m.kind == "text":
            out[name] = "a red cube on a wooden table"
        else:
            out[name] = {}
    if "edit_alpha" in out:  # a layer over part of the frame; the composite is the source where alpha is 0
        alpha = np.zeros((T, H, W), np.uint8)
        alpha[:, 6:20, 8:30] = 255
        alpha[:, 6:20, 30:34] = 128
        out["edit_alpha"] = alpha
        out["composite"] = np.where(alpha[..., None] > 0, out["composite"], out["input_video"])
    return out


@pytest.fixture(scope="module", params=NAMES)
def task(request) -> Task:
    return make_task(config(request.param).model)


def schema_of(task):
    return load_generator(task.source_generator).schema


def test_every_task_declares_the_protocol(task):
    assert check_task(type(task)) is type(task)
    assert task.source_generator in GENERATORS
    schema = schema_of(task)
    read = {*task.members, *task.reads.truth, task.reads.prompt_member}
    assert read <= set(schema), f"{task.name} reads members its generator does not write: {read - set(schema)}"
    assert task.reads.kind == task.name


def test_clip_encode_loss_on_a_made_up_batch(task):
    cfg = config(task.name)
    rt = type("Rt", (), {"device": torch.device("cpu")})()
    vae, text = load_encoders(cfg, rt)
    assert (text is None) == (not task.uses_text)
    sample = fake_sample(schema_of(task))
    batch = collate([task.clip({k: sample[k] for k in task.members}, cfg.data)])
    lat = task.encode(batch, vae, text)
    assert tuple(lat) == task.latent_keys
    for k in task.pixel_keys:  # stored as uint8 by precompute: exactly so
        assert torch.equal(lat[k], lat[k].round()) and 0 <= lat[k].min() and lat[k].max() <= 255, k
    torch.manual_seed(0)
    model = task.build_model()
    loss, parts = task.loss(model, lat, torch.Generator().manual_seed(0), cfg.flow, torch.device("cpu"),
                            torch.float32)
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert all(torch.isfinite(v) for v in parts.values())
    loss.backward()
    assert task.num_tokens(lat) > 0 and 0 < task.seq_len(lat) <= task.num_tokens(lat)


def test_run_write_read_back_and_score(task, tmp_path):
    """An untrained model runs a clip; what ``write`` puts on disk is what ``read_prediction`` reads back
    (the delivered video and masks are lossless); the ground truth scores as exact against itself."""
    from training.evaluation.report import truth_like

    cfg = config(task.name)
    runner, _ = build_runner(cfg)
    sample = fake_sample(schema_of(task), seed=1)
    clip = Clip(sample["__key__"], sample["input_video"], sample[task.reads.prompt_member],
                sample.get("quadmask") if task.reads.mask != "optional" else None,
                truth={k: sample[k] for k in task.reads.truth}, fps=12.0)
    options = task.options(cfg, runner)
    result = task.run(runner, clip, options)
    assert result["source"].shape == clip.video.shape
    preview = task.preview(result)
    assert preview.dtype == np.uint8 and len(preview) == T
    folder = task.write(tmp_path / clip.name, clip, result, {"test": True}, 12.0, runner, options)
    assert (folder / "settings.json").is_file() and not list(tmp_path.glob(".*.tmp"))
    again = task.read_prediction(tmp_path, clip.name)
    expected = task.prediction(result)
    for got, want in zip(again if isinstance(again, tuple) else (again,),
                         expected if isinstance(expected, tuple) else (expected,)):
        np.testing.assert_array_equal(got, want)
    members, cls = {**sample}, type(task)  # the report scores with the class: no model config needed
    rows = [cls.score(p, truth_like(members, p, cls)) for p in cls.candidates(members, cls.baselines).values()]
    assert rows and set(cls.summarise(rows)) and set(cls.report_row(rows)) >= set(cls.columns) - {"iou_clip_mean"}
    truth = cls.candidates(members, ())["ground truth"]
    exact = cls.score(truth, truth_like(members, truth, cls))
    assert all(v is None or v == float("inf") or v in (0.0, 1.0) for k, v in exact.items()
               if k.startswith(("psnr", "iou", "alpha_mae", "exact"))), exact


def test_evaluate_picks_the_task_by_generator():
    assert task_for_generator("datagen.vera_layers").name == "vera"
    assert task_for_generator("datagen.void_counterfactuals").name == "void"
    with pytest.raises(ValueError, match="toy_shapes"):
        task_for_generator("datagen.toy_shapes")


class Broken(Task):
    name = "broken"
    source_generator = "datagen.void_counterfactuals"
    members = ("input_video",)
    latent_keys = ("video",)
    baselines = ()
    columns = ("x",)


@pytest.mark.parametrize("change, message", [
    ({}, "reads"),
    ({"reads": TASKS["void"].reads}, "reads.kind"),
    ({"reads": TASKS["void"].reads.__class__("broken", "quadmask", False, "caption"), "pixel_keys": ("mask",)},
     "pixel_keys"),
    ({"reads": TASKS["void"].reads.__class__("broken", "quadmask", False, "caption")}, "must define build_model"),
    ({"reads": TASKS["void"].reads.__class__("broken", "quadmask", False, "caption"), "members": ["input_video"]},
     "members must be a tuple"),
])
def test_a_task_that_breaks_the_protocol_fails_at_load(change, message):
    with pytest.raises(TypeError, match=message):
        check_task(type("Broken", (Broken,), change))


def test_no_module_outside_tasks_names_a_model_kind():
    """A model kind is known in one place: no string equal to a task's name appears in training/ outside
    tasks/ and models/ (config keys are attributes, ``cfg.void``, not strings)."""
    found = []
    for path in sorted((REPO_ROOT / "training").rglob("*.py")):
        rel = path.relative_to(REPO_ROOT / "training")
        if rel.parts[0] in ("tasks", "models"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in TASKS:
                found.append(f"training/{rel}:{node.lineno} {node.value!r}")
    assert not found, found


def test_the_made_up_quadmask_has_every_level():
    assert set(np.unique(fake_sample(schema_of(TASKS["void"]))["quadmask"])) == {OBJECT, OVERLAP, AFFECTED, KEEP}
