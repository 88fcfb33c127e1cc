"""VOID counterfactual pairs from Kubric physics, with simulation-exact quadmasks.

    python datagen/void_counterfactuals.py out=DIR num_samples=4 render.width=208 render.height=120 \\
        render.frames=9 render.spp=4
    ray submit ray_cluster.yaml datagen/void_counterfactuals.py -- out=s3://bucket/void num_samples=10000
    python datagen/void_counterfactuals.py out=DIR render.width=384 render.height=384 render.frames=60 \\
        render.fps=12                                    # VOID's own setup

Each sample: a scene from one of the families (launch, support, chain, blocker; a share of them
negative), both worlds simulated with PyBullet, passes A/C/B rendered with Cycles
(``datagen/counterfactual.py``), the quadmask from segmentation of the simulated worlds (plus,
optionally, VOID's pixel rule), a caption of the counterfactual video, and everything needed to
check the labels (``INVARIANTS``, run by ``python -m datagen.validate``).
"""
from __future__ import annotations

import functools
import sys
from pathlib import Path

if __name__ == "__main__" and not __package__:  # run as a path: import the project, not datagen/'s files
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import numpy as np

from datagen.labels import quadmask as qm
from datagen.runner import Member, sample_rng, stage
from datagen.runner.timing import record

SCHEMA = {
    "input_video": Member("video", doc="A: the world with every object, uint8 (T,H,W,3) sRGB"),
    "target_video": Member("video", doc="B: the world re-simulated without the removed objects"),
    "quadmask": Member("mask", dtype="uint8", doc="(T,H,W) 0 removed object, 63 overlap, 127 affected, 255 keep"),
    "input_segmentation": Member("mask", dtype="uint16", doc="A's object ids per pixel (spec object i -> i+1, 0 background)"),
    "target_segmentation": Member("mask", dtype="uint16", doc="B's object ids per pixel"),
    "target_depth": Member("array", dtype="float16", ndim=3, compress=True,
                           doc="B's distance to the camera centre in metres (T,H/f,W/f), inf for sky; "
                               "f = void.label_downsample, sampled at block centres"),
    "target_forward_flow": Member("array", dtype="float16", ndim=4, compress=True,
                                  doc="B's forward optical flow (T,H/f,W/f,2) in full-resolution pixels, "
                                      "(d_row, d_col), rounded to 1/32 px, sampled at block centres"),
    "effects": Member("mask", dtype="uint8", doc="(T,H,W) 1 where the removed objects' shadows, reflections "
                                                 "or bleeding show (part of 127), else 0"),
    "caption": Member("text", doc="dense caption of the counterfactual (target) video"),
    "meta": Member("json", doc="scene spec, story, both worlds' trajectories and collisions, affected ids, "
                               "divergence frame, mask statistics, render cost (per-stage timings are in "
                               "the shard stats and dataset.json, to keep samples byte-reproducible)"),
}


@functools.lru_cache(maxsize=4)
def _asset_source(manifest):
    from datagen.assets import open_asset_source
    return open_asset_source(manifest)


def _mask_config(cfg) -> dict:
    """``void.mask``, with ``humoto.mask`` over it for human removal."""
    from omegaconf import OmegaConf
    m = OmegaConf.to_container(cfg.void.mask, resolve=True)
    if cfg.source == "humoto":
        m.update(OmegaConf.to_container(cfg.humoto.mask, resolve=True))
    return m


def _cf_config(cfg):
    from datagen.counterfactual import CounterfactualConfig
    m = _mask_config(cfg)
    return CounterfactualConfig(position_tolerance=m["position_tolerance"], rotation_tolerance=m["rotation_tolerance"],
                                mask_rule=m["rule"], pixel_threshold=m["pixel_threshold"],
                                pixel_gamma=float(m.get("pixel_gamma", 1.0)),
                                pixel_min_neighbours=int(m.get("pixel_min_neighbours", 0)), effects=m["effects"],
                                effect_threshold=m["effect_threshold"], clear_first_frame=m["clear_first_frame"],
                                dilation=int(m["dilation"]), render_effects_pass=m["render_effects_pass"],
                                target_layers=("segmentation", "depth", "forward_flow"))


def _subsample(layer: np.ndarray, factor: int) -> np.ndarray:
    """Every ``factor``-th pixel, at block centres (no averaging: depth and flow stay exact values of
    real surfaces instead of blends across edges)."""
    if factor <= 1:
        return layer
    o = factor // 2
    return layer[:, o::factor, o::factor]


def _data_spec(spec) -> dict:
    """The spec as data: Cycles' thread count changes no pixel, so it is not recorded (0 = auto)."""
    d = spec.to_dict()
    d["render"]["threads"] = 0
    return d


SOURCES = ("kubric", "humoto")


@functools.lru_cache(maxsize=4)
def _humoto_sequences(root: str | None, wanted: tuple[str, ...] | None) -> tuple[str, tuple[str, ...]]:
    from datagen.humans.fixtures import default_fixtures
    from datagen.humans.humoto import list_sequences

    root = str(root) if root else str(default_fixtures())
    names = list_sequences(root)
    if wanted:
        missing = sorted(set(wanted) - set(names))
        if missing:
            raise ValueError(f"humoto.sequences: {missing} not under {root}")
        names = [n for n in names if n in wanted]
    return root, tuple(names)


def check_config(config) -> None:
    """One-line errors for options no sample could be made with, before any work starts."""
    from datagen.scene.spec import BODY_MODELS

    if config.source not in SOURCES:
        raise ValueError(f"source={config.source!r}; choose from {SOURCES}")
    _cf_config(config)  # mask rule and tolerances
    if config.source != "humoto":
        return
    from datagen.humans.humoto import check_resample
    from datagen.humans.scene import check_camera_motion, read_physics_config

    h = config.humoto
    if h.sequences is not None and (isinstance(h.sequences, str) or not all(isinstance(n, str) for n in h.sequences)):
        raise ValueError(f"humoto.sequences must be a list of names, e.g. humoto.sequences=[lift_box], got {h.sequences!r}")
    check_camera_motion(h.camera_motion)
    check_resample(h.resample)
    if h.walls is not None and not isinstance(h.walls, bool):
        raise ValueError(f"humoto.walls must be true, false or null (random), got {h.walls!r}")
    if h.body not in BODY_MODELS:
        raise ValueError(f"humoto.body={h.body!r}; choose from {BODY_MODELS}")
    if h.body == "smplx":
        for key in ("model", "motion"):
            path = h.smplx[key]
            if not path:
                raise ValueError(f"humoto.body=smplx needs humoto.smplx.{key} (see docs/humans.md)")
            if not Path(path).exists():
                raise FileNotFoundError(f"humoto.smplx.{key} not found: {path}")
    if h.objects is not None and not Path(h.objects).is_dir():
        raise FileNotFoundError(f"humoto.objects is not a folder: {h.objects}")
    if h.physics_config:
        read_physics_config(h.physics_config)
    _humoto_sequences(h.root, tuple(h.sequences) if h.sequences else None)


def _kubric_scene(config, seed, render, cf):
    from datagen.families import sample_pair_scene

    source = _asset_source(config.void.assets)
    r = config.render
    scene, factual, _ = sample_pair_scene(
        sample_rng(seed, "scene"), source, render, r.frames, r.fps, dict(config.void.families),
        float(config.void.negative_rate), cf, max_attempts=int(config.void.max_attempts),
        physics_rate=int(config.void.physics_rate))
    return scene.spec, scene.removed, scene.story, source, dict(factual=factual)


def _humoto_scene(config, index, seed, render, cf):
    """A HUMOTO sequence (in turn by sample index) with the person to remove; the counterfactual is
    the objects alone under physics, the factual their recorded motion."""
    from datagen.humans.scene import build_scene
    from datagen.scene.simulate import simulate

    h, r = config.humoto, config.render
    root, names = _humoto_sequences(h.root, tuple(h.sequences) if h.sequences else None)
    name = names[index % len(names)]
    scene = build_scene(sample_rng(seed, "scene"), str(Path(root) / name), render, r.frames, r.fps,
                        int(config.void.physics_rate), objects_dir=h.objects, body_model=h.body,
                        resample=h.resample, physics_config=h.physics_config, walls=h.walls,
                        camera_motion=h.camera_motion, smplx_model=h.smplx.model, smplx_motion=h.smplx.motion,
                        still_position=cf.position_tolerance, still_rotation=cf.rotation_tolerance)
    source = _asset_source(scene.spec.assets)
    counterfactual = simulate(scene.spec, source=source)
    removed = [b.name for b in scene.spec.bodies]
    extra = dict(factual=scene.factual, counterfactual=counterfactual,
                 influenced={n: 0.0 for n in scene.factual.names})  # a person may touch anything
    return scene.spec, removed, scene.story, source, extra


def make_sample(config, index: int, seed: int) -> dict:
    from datagen.counterfactual import make_pair
    from datagen.labels.captions import caption
    from datagen.scene.spec import RenderSpec

    if config.source not in SOURCES:
        raise ValueError(f"source={config.source!r}; choose from {SOURCES}")
    r = config.render
    cf = _cf_config(config)
    with stage("scene"):
        render = RenderSpec(width=r.width, height=r.height, spp=r.spp, threads=int(r.threads or 0),
                            seed=int(seed % (2 ** 31)), denoise=bool(config.void.denoise))
        if config.source == "humoto":
            spec, removed, story, source, extra = _humoto_scene(config, index, seed, render, cf)
        else:
            spec, removed, story, source, extra = _kubric_scene(config, seed, render, cf)
    with stage("pair"):
        pair = make_pair(spec, removed, cf, source=source, **extra)
    with stage("caption"):
        text = caption(spec, pair.counterfactual)
    f = int(config.void.label_downsample)
    ids = spec.segmentation_ids()
    values, counts = np.unique(pair.quadmask, return_counts=True)
    story = {**story, "negative": story["negative"] if config.source == "kubric" else not pair.comparison.affected}
    meta = {
        "source": config.source,
        "family": story["family"],
        "negative": story["negative"],
        "story": story,
        "removed": pair.removed,
        "removed_ids": [ids[n] for n in pair.removed],
        "affected": pair.comparison.affected,
        "affected_ids": [ids[n] for n in pair.comparison.affected],
        "object_ids": ids,
        "divergence_frame": pair.comparison.divergence_frame,
        "comparison": pair.comparison.to_dict(),
        "camera_motion": spec.camera.motion,
        "scene": _data_spec(spec),
        "factual": pair.factual.to_dict(),
        "counterfactual": pair.counterfactual.to_dict(),
        "mask_config": _mask_config(config),
        "mask_counts": {int(v): int(c) for v, c in zip(values, counts)},
        "effects_pixels": int(pair.masks.get("effects", np.zeros(1, bool)).sum()),
        "render": {"width": r.width, "height": r.height, "frames": r.frames, "fps": r.fps, "spp": r.spp,
                   "physics_rate": spec.physics_rate, "cycles_seed": spec.render.seed},
        "label_downsample": f,
        "render_cost": pair.render_cost,  # in full renders; wall-clock timings go to the run's stats
    }
    for name, seconds in pair.timings.items():
        record(name, seconds)
    return {
        "input_video": pair.input_video,
        "target_video": pair.target_video,
        "quadmask": pair.quadmask,
        "input_segmentation": pair.input_segmentation,
        "target_segmentation": pair.target_layers["segmentation"],
        "target_depth": _subsample(pair.target_layers["depth"], f).astype(np.float16),
        "target_forward_flow": (np.round(_subsample(pair.target_layers["forward_flow"], f) * 32) / 32).astype(np.float16),
        "effects": pair.masks.get("effects", np.zeros_like(pair.masks["removed"])).astype(np.uint8),
        "caption": text,
        "meta": meta,
    }


def preview_columns(sample: dict) -> list[np.ndarray]:
    """input | target | coloured quadmask | |A - B| (for ``python -m datagen.preview``)."""
    diff = np.abs(sample["input_video"].astype(np.int16) - sample["target_video"].astype(np.int16)).max(-1)
    diff = np.repeat(np.clip(diff * 4, 0, 255).astype(np.uint8)[..., None], 3, axis=-1)
    return [sample["input_video"], sample["target_video"], qm.colorize(sample["quadmask"]), diff]


# ------------------------------------------------------------------------------------------ invariants

def _sizes(sample, config) -> list[str]:
    t, h, w = sample["input_video"].shape[:3]
    errors = []
    for name in ("target_video", "quadmask", "input_segmentation", "target_segmentation", "effects"):
        if tuple(sample[name].shape[:3]) != (t, h, w):
            errors.append(f"{name}: shape {tuple(sample[name].shape[:3])} != input_video's {(t, h, w)}")
    f = int(sample["meta"].get("label_downsample", 1))
    small = (t, len(range(f // 2, h, f)), len(range(f // 2, w, f))) if f > 1 else (t, h, w)
    for name in ("target_depth", "target_forward_flow"):
        if tuple(sample[name].shape[:3]) != small:
            errors.append(f"{name}: shape {tuple(sample[name].shape[:3])} != {small} (label_downsample {f})")
    r = config.render
    if (t, h, w) != (r.frames, r.height, r.width):
        errors.append(f"input_video: {(t, h, w)} != configured (frames, height, width) {(r.frames, r.height, r.width)}")
    return errors


def _mask_values(sample, config) -> list[str]:
    bad = sorted(set(np.unique(sample["quadmask"]).tolist()) - set(qm.VALUES))
    return [f"quadmask: values {bad} outside {list(qm.VALUES)}"] if bad else []


def _removed_region(sample, config) -> list[str]:
    """0 and 63 are exactly the removed objects' pixels in A (dilated as configured)."""
    meta = sample["meta"]
    removed = np.isin(sample["input_segmentation"], meta["removed_ids"])
    removed = qm.dilate(removed, int(meta["mask_config"].get("dilation", 0)))
    marked = np.isin(sample["quadmask"], (qm.OBJECT, qm.OVERLAP))
    wrong = int((removed != marked).sum())
    return [f"quadmask: {wrong} pixels where 0/63 disagree with the removed objects in A"] if wrong else []


def _removed_absent_from_target(sample, config) -> list[str]:
    n = int(np.isin(sample["target_segmentation"], sample["meta"]["removed_ids"]).sum())
    return [f"target: {n} pixels of removed objects in B"] if n else []


def _unaffected_identical(sample, config) -> list[str]:
    from datagen.scene.simulate import WorldStates, rotation_angle
    meta = sample["meta"]
    f, c = WorldStates.from_dict(meta["factual"]), WorldStates.from_dict(meta["counterfactual"])
    errors = []
    for name in c.names:
        if name in meta["affected"]:
            continue
        pf, qf = f.trajectory(name)
        pc, qc = c.trajectory(name)
        dp, dr = float(np.abs(pf - pc).max()), float(rotation_angle(qf, qc).max())
        if dp > 1e-5 or dr > 1e-5:
            errors.append(f"{name}: unaffected but differs between worlds (position {dp:.2e} m, rotation {dr:.2e} rad)")
    return errors


def _affected_region(sample, config) -> list[str]:
    """Negative pairs change nothing but the removed object's own effects; positive pairs mark
    what they change wherever an affected object is in view."""
    meta, mask = sample["meta"], sample["quadmask"]
    changed = np.isin(mask, (qm.AFFECTED, qm.OVERLAP))
    if meta["negative"]:
        if meta["affected"]:
            return [f"negative pair with affected objects {meta['affected']}"]
        effects = qm.dilate(sample["effects"].astype(bool), int(meta["mask_config"].get("dilation", 0)))
        extra = int((changed & ~effects).sum())
        return [f"negative pair: {extra} pixels of 127/63 beyond the removed object's own effects"] if extra else []
    first = 1 if meta["mask_config"].get("clear_first_frame", True) else 0
    visible = np.isin(sample["target_segmentation"][first:], meta["affected_ids"]).any() or \
        np.isin(sample["input_segmentation"][first:], meta["affected_ids"]).any()
    if meta["affected"] and visible and not changed.any():
        return [f"affected objects {meta['affected']} are visible but 127 is empty"]
    return []


def _released_from_recorded_start(sample, config) -> list[str]:
    """Human removal: every object starts the counterfactual where the recording has it at frame 0,
    and static objects never move in it."""
    from datagen.scene.simulate import WorldStates
    meta = sample["meta"]
    if meta.get("source") != "humoto":
        return []
    f, c = WorldStates.from_dict(meta["factual"]), WorldStates.from_dict(meta["counterfactual"])
    errors = []
    for name in c.names:
        pf, _ = f.trajectory(name)
        pc, _ = c.trajectory(name)
        if float(np.abs(pf[0] - pc[0]).max()) > 1e-4:
            errors.append(f"{name}: counterfactual starts {float(np.abs(pf[0] - pc[0]).max()):.2e} m from the recording")
        if meta["story"]["modes"].get(name) == "static" and float(np.abs(pc - pc[0]).max()) > 1e-6:
            errors.append(f"{name}: static but moves in the counterfactual")
    return errors


def _caption(sample, config) -> list[str]:
    return [] if sample["caption"].strip() else ["caption: empty"]


INVARIANTS = (_sizes, _mask_values, _removed_region, _removed_absent_from_target, _unaffected_identical,
              _affected_region, _released_from_recorded_start, _caption)


if __name__ == "__main__":
    from datagen.runner import main

    main("void_counterfactuals")
