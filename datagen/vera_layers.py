"""Vera layered samples: input video, edit layer (RGB + alpha), subject mask, composite and a long
edit instruction, with labels exact by construction (both worlds are rendered).

    python datagen/vera_layers.py out=DIR num_samples=6 render.width=208 render.height=120 \\
        render.frames=9 render.spp=4
    python datagen/vera_layers.py out=DIR render.frames=81            # the 81-frame cut
    python datagen/vera_layers.py out=DIR vera.families.synthetic=1 vera.families.single_object=0 \\
        vera.families.multi_object=0 vera.synthetic.foreground.videomatte=1 \\
        vera.synthetic.videomatte_dir=/data/VideoMatte240K vera.synthetic.background.videos=1 \\
        vera.synthetic.videos_dir=/data/backgrounds
    ray submit ray_cluster.yaml datagen/vera_layers.py -- out=s3://bucket/vera num_samples=6000

Families, tasks and the render plan: ``datagen/vera/__init__.py``; the decomposition:
``datagen/labels/layers.py``; members and conventions: ``docs/vera.md``.
"""
from __future__ import annotations

import functools
import sys
from pathlib import Path

if __name__ == "__main__" and not __package__:  # run as a path: import the project, not datagen/'s files
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import numpy as np

from datagen.runner import Member, sample_rng, stage
from datagen.vera.invariants import INVARIANTS  # noqa: F401  (the generator contract)

# x264 quality of the three videos: the layers must still add up after decoding (3 grey levels mean),
# and low-spp render noise under HDR light costs x264 ~3 levels even at CRF 10; io.video_crf overrides.
CRF = 7

SCHEMA = {
    "edit_instruction": Member("text", doc="the edit, in long cinematic words (what, material, motion, light, "
                                           "shot, camera, what to keep)"),
    "input_video": Member("video", crf=CRF, doc="uint8 (T,H,W,3) sRGB: the source the edit applies to"),
    "edit_rgb": Member("video", crf=CRF, doc="uint8 (T,H,W,3) the edit layer's colour (the input where alpha is 0)"),
    "edit_alpha": Member("mask", dtype="uint8", doc="(T,H,W) the edit layer's alpha, 0..255 = 0..1, lossless; "
                                                    "smallest exact alpha above the subject's coverage"),
    "mask": Member("mask", dtype="uint8", doc="(T,H,W) 255 where the subject is visible in the composite, else 0"),
    "composite": Member("video", crf=CRF, doc="uint8 (T,H,W,3) alpha * edit_rgb + (1 - alpha) * input_video "
                                     "(matting: the input itself)"),
    "meta": Member("json", doc="task, family, scene description and specs, trajectories, residuals "
                               "(grey levels), render cost in full renders"),
}


@functools.lru_cache(maxsize=8)
def _folder(kind: str, root: str):
    from datagen.vera.footage import MatteFolder, VideoFolder
    return MatteFolder(root) if kind == "videomatte" else VideoFolder(root)


def _folders(syn) -> dict:
    out = {}
    for kind, key, weights in (("videomatte", "videomatte_dir", syn.foreground), ("videos", "videos_dir", syn.background)):
        if float(weights.get(kind, 0) or 0) > 0:
            if not syn.get(key):
                raise ValueError(f"vera.synthetic.{key} must name a folder when its weight is > 0")
            out[kind] = _folder(kind, str(syn[key]))
    return out


def choose(config, index: int, seed: int) -> tuple[str, str, str]:
    """(family, task, subject kind) of sample ``index``: the triples (weight: family x task x subject
    weights) spread evenly over indices (``vera.stratify``), or drawn at random from the sample's seed."""
    from datagen.vera import FAMILIES, SUBJECTS, pick, stratified
    from datagen.vera.tasks import TASKS

    v = config.vera
    families, tasks, subjects = _weights(v.families, FAMILIES), _weights(v.tasks, TASKS), _weights(v.subjects, SUBJECTS)

    def kinds(family: str) -> dict:  # a synthetic object is rendered: none when the rendered foreground is off
        off = family == "synthetic" and float(v.synthetic.foreground.get("rendered", 0) or 0) <= 0
        return {**subjects, "object": 0.0} if off else subjects

    if v.stratify:
        triples = {f"{f}/{t}/{k}": families[f] * tasks[t] * kinds(f)[k] for f in FAMILIES for t in TASKS for k in SUBJECTS}
        return tuple(stratified(index, triples, list(triples)).split("/"))
    rng = sample_rng(seed, "family")
    family = pick(rng, families, FAMILIES)
    return family, pick(rng, tasks, TASKS), pick(rng, kinds(family), SUBJECTS)


def _weights(weights, allowed) -> dict:
    unknown = set(weights) - set(allowed)
    if unknown:
        raise ValueError(f"unknown names {sorted(unknown)}; choose from {list(allowed)}")
    return {n: max(0.0, float(weights.get(n, 0) or 0)) for n in allowed}


def check_config(config) -> None:
    """One-line errors for the assets section; builds the installed asset sources once, in the driver."""
    from datagen.assets.library import AssetsConfig, open_scene_library

    open_scene_library(AssetsConfig.from_section(config.assets))
    from datagen.scene.people import person_source

    person_source(config.vera.get("person"))


def make_sample(config, index: int, seed: int) -> dict:
    from datagen.assets.library import AssetsConfig, credits, open_scene_library
    from datagen.scene.people import person_source
    from datagen.scene.spec import RenderSpec
    from datagen.vera import rendered, synthetic
    from datagen.vera.instructions import instruction
    from datagen.vera.passes import Passes
    from datagen.vera.tasks import RELATION, FoldConfig

    r, v = config.render, config.vera
    family, task, subject = choose(config, index, seed)
    fold = FoldConfig.from_section(v.fold)
    render = RenderSpec.from_config(r, seed)
    with stage("setup"):
        source = open_scene_library(AssetsConfig.from_section(config.assets))
        folders = _folders(v.synthetic) if family == "synthetic" else {}
    passes = Passes(source, r.width, r.height, r.frames)
    person = person_source(v.get("person")) if subject == "person" else None
    rng = sample_rng(seed, "scene")
    with stage("sample"):
        if family == "synthetic":
            clip, words, extra = synthetic.make(rng, task, source, render, r.frames, r.fps, v.synthetic, fold,
                                                passes, folders, subject, person)
        else:
            clip, words, extra = rendered.make(rng, family, task, source, render, r.frames, r.fps,
                                               int(v.physics_rate), fold, passes, bool(v.region_render), subject,
                                               person)
    text = instruction(words)
    meta = {
        "task": task, "family": family, "subject_kind": subject, "relation": RELATION[task], "description": words,
        "residual": clip.stats, "fold": {"enabled": fold.enabled, "threshold": fold.threshold,
                                         "min_neighbours": fold.min_neighbours, "min_component": fold.min_component},
        "render": {"width": r.width, "height": r.height, "frames": r.frames, "fps": r.fps, "spp": r.spp,
                   "denoise": render.denoise, "adaptive_threshold": render.adaptive_threshold,
                   "cycles_seed": render.seed},
        **passes.bill(), **extra, "assets": credits(source, passes.asset_ids),
    }
    if v.meta_timings:  # off by default: wall-clock seconds make samples non-reproducible
        meta["timings"] = passes.seconds
    return {"edit_instruction": text, "input_video": clip.input, "edit_rgb": clip.edit, "edit_alpha": clip.alpha,
            "mask": clip.mask, "composite": clip.composite, "meta": meta}


def preview_columns(sample: dict) -> list[np.ndarray]:
    """input | edit over a checkerboard | alpha | composite (for ``python -m datagen.preview``)."""
    from datagen.vera.preview import columns
    return columns(sample)


def credits(encoded) -> list[dict]:
    """The third-party assets (objects, HDRIs, surfaces) a sample uses, from its metadata."""
    import json

    return json.loads(encoded["meta.json"]).get("assets", [])

if __name__ == "__main__":
    from datagen.runner import main

    main("vera_layers")
