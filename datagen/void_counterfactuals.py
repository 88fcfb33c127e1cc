"""VOID counterfactual pairs from Kubric physics, with simulation-exact quadmasks.

    python datagen/void_counterfactuals.py out=DIR num_samples=4 render.width=208 render.height=120 \\
        render.frames=9 render.spp=4
    ray submit ray_cluster.yaml datagen/void_counterfactuals.py -- out=s3://bucket/void num_samples=10000
    python datagen/void_counterfactuals.py out=DIR render.width=384 render.height=384 render.frames=60 \\
        render.fps=12                                    # VOID's own setup

Each sample: a scene from one of the families (launch, support, chain, blocker, effects; a share of them
negative), both worlds simulated with PyBullet, passes A/C/B rendered with Cycles
(``datagen/void/pairs.py``), the quadmask from segmentation of the simulated worlds (plus,
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

from datagen.assets.source import cached_asset_source
from datagen.runner import Member, record, sample_rng, stage
from datagen.void.invariants import INVARIANTS  # noqa: F401  (the generator contract)
from datagen.void.preview import preview_columns  # noqa: F401  (for python -m datagen.preview)

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
    "effect_categories": Member("mask", dtype="uint8", doc="(T,H,W) bit flags of how each effect pixel of 127 is "
                                                           "carried: 1 shadow, 2 reflection (glossy, mirror), 4 "
                                                           "transmission (through glass), 8 illumination (light the "
                                                           "removed objects emit or bounce); 0 elsewhere"),
    "caption": Member("text", doc="dense caption of the counterfactual (target) video"),
    "meta": Member("json", doc="scene spec, story, both worlds' trajectories and collisions, affected ids, "
                               "divergence frame, mask statistics, render cost (per-stage timings are in "
                               "the shard stats and dataset.json, to keep samples byte-reproducible)"),
}


def _mask_config(cfg) -> dict:
    """``void.mask``, with ``humoto.mask`` over it for human removal."""
    from omegaconf import OmegaConf
    m = OmegaConf.to_container(cfg.void.mask, resolve=True)
    if cfg.source == "humoto":
        m.update(OmegaConf.to_container(cfg.humoto.mask, resolve=True))
    return m


def _cf_config(cfg):
    from datagen.void.pairs import MaskConfig
    return MaskConfig.from_section(_mask_config(cfg))


def _subsample(layer: np.ndarray, factor: int) -> np.ndarray:
    """Every ``factor``-th pixel, at block centres (no averaging: depth and flow stay exact values of
    real surfaces instead of blends across edges)."""
    if factor <= 1:
        return layer
    o = factor // 2
    return layer[:, o::factor, o::factor]



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
    from datagen.void.families import FAMILIES
    from datagen.void.families.effects import CATEGORIES

    if config.void.effects.category is not None and config.void.effects.category not in CATEGORIES:
        raise ValueError(f"void.effects.category={config.void.effects.category!r}; choose from {CATEGORIES} or null")
    unknown = sorted(set(config.void.families) - set(FAMILIES))
    if unknown:
        raise ValueError(f"void.families: no family {unknown}; choose from {sorted(FAMILIES)}")
    _library(config)  # the assets section; builds the installed sources once, here, not in every worker
    if config.source != "humoto":
        return
    from datagen.humans.humoto import check_resample
    from datagen.scene.people import check_camera_motion
    from datagen.void.human_scene import read_physics_config

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


def _library(config):
    from datagen.assets.library import AssetsConfig, open_scene_library

    return open_scene_library(AssetsConfig.from_section(config.assets))


def _kubric_scene(config, seed, render, cf):
    from datagen.scene.random_scene import keep_asset_looks
    from datagen.void.families import sample_pair_scene

    source = _library(config)
    r = config.render
    scene, factual, _ = sample_pair_scene(
        sample_rng(seed, "scene"), source, render, r.frames, r.fps, dict(config.void.families),
        float(config.void.negative_rate), cf, max_attempts=int(config.void.max_attempts),
        physics_rate=int(config.void.physics_rate), effect_category=config.void.effects.category)
    spec = keep_asset_looks(scene.spec, source, scene.story.get("carriers", ()))
    return spec, scene.removed, scene.story, source, dict(factual=factual)


def _humoto_scene(config, index, seed, render, cf):
    """A HUMOTO sequence (in turn by sample index) with the person to remove; the counterfactual is
    the objects alone under physics, the factual their recorded motion."""
    import dataclasses

    from datagen.scene.simulate import simulate
    from datagen.void.human_scene import HumotoConfig, build_scene

    library = _library(config)
    h, r = HumotoConfig.from_section(config.humoto), config.render
    root, names = _humoto_sequences(h.root, tuple(h.sequences) if h.sequences else None)
    name = names[index % len(names)]
    scene = build_scene(sample_rng(seed, "scene"), str(Path(root) / name), render, r.frames, r.fps,
                        int(config.void.physics_rate), h, cf, scene_library=library)
    if library.manifest_path:  # the HUMOTO objects with the library's environments and surfaces
        from datagen.assets.library import AssetsConfig, scene_manifest

        assets = AssetsConfig.from_section(config.assets)
        merged = scene_manifest(scene.spec.assets, assets.licences, hdris=assets.hdris)
        scene.spec = dataclasses.replace(scene.spec, assets=str(merged))
    source = cached_asset_source(scene.spec.assets)
    counterfactual = simulate(scene.spec, source=source)
    removed = [b.name for b in scene.spec.bodies]
    extra = dict(factual=scene.factual, counterfactual=counterfactual,
                 influenced={n: 0.0 for n in scene.factual.names})  # a person may touch anything
    return scene.spec, removed, scene.story, source, extra


def make_sample(config, index: int, seed: int) -> dict:
    from datagen.assets.library import credits, spec_asset_ids
    from datagen.scene.spec import RenderSpec, spec_data
    from datagen.void.captions import caption
    from datagen.void.categories import category_counts
    from datagen.void.pairs import make_pair

    if config.source not in SOURCES:
        raise ValueError(f"source={config.source!r}; choose from {SOURCES}")
    r = config.render
    cf = _cf_config(config)
    with stage("scene"):
        render = RenderSpec.from_config(r, seed)
        if config.source == "humoto":
            spec, removed, story, source, extra = _humoto_scene(config, index, seed, render, cf)
        else:
            spec, removed, story, source, extra = _kubric_scene(config, seed, render, cf)
    with stage("pair"):
        pair = make_pair(spec, removed, cf, source=source, region=bool(config.void.region_render), **extra)
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
        "scene": spec_data(spec),
        "assets": credits(source, spec_asset_ids(spec)),
        "factual": pair.factual.to_dict(),
        "counterfactual": pair.counterfactual.to_dict(),
        "mask_config": _mask_config(config),
        "mask_counts": {int(v): int(c) for v, c in zip(values, counts)},
        "effects_pixels": int(pair.masks.get("effects", np.zeros(1, bool)).sum()),
        "effect_category": story.get("effect_category"),  # the effects family's carrier; None for the others
        "effect_category_pixels": category_counts(pair.masks["categories"]) if "categories" in pair.masks else None,
        "render": {"width": r.width, "height": r.height, "frames": r.frames, "fps": r.fps, "spp": r.spp,
                   "denoise": spec.render.denoise, "adaptive_threshold": spec.render.adaptive_threshold,
                   "physics_rate": spec.physics_rate, "cycles_seed": spec.render.seed},
        # share of the keep region (255) whose target pixels are the input's (raw renders agree exactly there)
        "keep_from_input": round(float(pair.masks["keep_from_input"].sum()) / max(int(counts[values == 255].sum()), 1), 5),
        "label_downsample": f,
        "render_cost": pair.render_cost,  # A, C, B beauty pixels / (frames x W x H); wall-clock timings go to the run's stats
        "label_cost": pair.label_cost,  # the effect-category passes, same units (at the run's spp)
        # region passes (C, B): beauty pixels rendered, frames, frames whose box grew where the change crossed
        # it, frames rendered in full after that still leaked; every pass also renders its label layers
        # (1 sample) over the same pixels; categories: the ray passes' beauty pixels in run-spp units, and their spp
        "render_passes": {name: {k: r[k] for k in ("beauty_pixels", "frames", "grown_frames", "full_frames", "spp")
                                 if k in r}
                          for name, r in pair.render_report.items()},
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
        "effect_categories": pair.masks.get("categories", np.zeros_like(pair.masks["removed"], np.uint8)),
        "caption": text,
        "meta": meta,
    }






def credits(encoded) -> list[dict]:
    """The third-party assets (objects, HDRIs, surfaces) a sample uses, from its metadata."""
    import json

    return json.loads(encoded["meta.json"]).get("assets", [])

if __name__ == "__main__":
    from datagen.runner import main

    main("void_counterfactuals")
