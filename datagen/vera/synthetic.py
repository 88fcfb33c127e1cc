"""Vera's synthetic family: a matted foreground layer placed over a background video.

Foregrounds (``vera.synthetic.foreground`` weights):
  ``rendered``    our subject on a transparent film (Cycles ``rgba``), rendered only as large as it will
                  ever appear (cost: that share of a frame's pixels): one of our objects spinning in mid-air
                  (subject ``object``), or a person (subject ``person``: an adult anny body walking,
                  turning or waving, filmed static or followed, standing on a shadow-catcher floor so its
                  shadow is in the layer's alpha, its soft edges from the film's transparency).
  ``videomatte``  a clip from a VideoMatte240K-style folder (``fgr/`` + ``pha/``), no render (people:
                  subject ``person`` only).
Backgrounds (``vera.synthetic.background`` weights):
  ``rendered``    a set of props under a sky with a moving camera (one full render),
  ``videos``      a clip from a folder of videos, no render.

The layer is placed with a random scale and a smooth random motion (an eased path of its centre
and scale), resampled with an area filter on premultiplied colour, and composited in float; the
composite is rounded to uint8 and decomposed exactly like a render (the foreground's alpha is
the lower bound, so the layer is the foreground wherever it covers).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from datagen.core.rotations import random_quaternion
from datagen.labels.quadmask import box3, dilate
from datagen.scene.geometry import geometry
from datagen.scene.random_scene import keep_asset_looks, material, pick_asset, sky_and_sun
from datagen.scene.spec import CameraSpec, ObjectSpec, SceneSpec
from datagen.vera.footage import even
from datagen.vera.scenes import SUBJECTS

FOREGROUNDS = ("rendered", "videomatte")
BACKGROUNDS = ("rendered", "videos")


@dataclass
class Layer:
    """A foreground clip: straight colour and alpha in [0, 1], (T, h, w, 3) and (T, h, w)."""
    colour: np.ndarray
    alpha: np.ndarray
    kind: str
    description: dict  # words for the instruction: noun phrase, material, motion
    meta: dict = field(default_factory=dict)
    spec: SceneSpec | None = None
    anchor_bottom: bool = False  # people stand on the frame's bottom edge
    coverage: np.ndarray | None = None  # (T, h, w) bool where the subject itself is (alpha also holds its shadow)


def foreground_spec(rng, source, render, frames: int, fps: int, width: int, height: int) -> SceneSpec:
    """One object spinning in place (no gravity, no floor) under a sky, framed to fill the frame."""
    env, sun = sky_and_sun(rng, source)
    env = dataclasses.replace(env, floor=None)
    asset = pick_asset(rng, source, SUBJECTS)
    g = geometry(source, asset)
    spin_axis = rng.normal(size=3)
    spin_axis /= np.linalg.norm(spin_axis)
    obj = ObjectSpec("subject", asset, material(rng, "metal" if rng.random() < 0.25 else None), 1.0,
                     position=(0.0, 0.0, 0.0), quaternion=random_quaternion(rng),
                     angular_velocity=tuple(float(v) for v in spin_axis * rng.uniform(1.5, 4.0)))
    radius = 0.5 * float(np.linalg.norm(g.size))
    focal = 35.0
    distance = radius * (focal / 32.0 * width) / (0.44 * height)
    azimuth, elevation = float(rng.uniform(0, 2 * math.pi)), float(rng.uniform(0.15, 0.6))
    position = (distance * math.cos(elevation) * math.cos(azimuth), distance * math.cos(elevation) * math.sin(azimuth),
                distance * math.sin(elevation))
    camera = CameraSpec(position=position, look_at=(0.0, 0.0, 0.0), focal_length=focal)
    return keep_asset_looks(SceneSpec(objects=[obj], camera=camera, lights=[sun], environment=env,
                                      render=dataclasses.replace(render, width=width, height=height), frames=frames,
                                      fps=fps, gravity=(0.0, 0.0, 0.0)), source)


def rendered_layer(rng, source, render, frames: int, fps: int, width: int, height: int, passes) -> Layer:
    from datagen.scene.simulate import simulate

    spec = foreground_spec(rng, source, render, frames, fps, width, height)
    states = simulate(spec, source=source)
    rgba = passes.render(spec, states, "foreground", layers=("rgba",))["rgba"]
    o = spec.objects[0]
    return Layer(rgba[..., :3].astype(np.float32) / 255, rgba[..., 3].astype(np.float32) / 255, "rendered",
                 {"object": o.asset_id, "material": o.material.preset, "color": list(o.material.color),
                  "motion": "spins in mid-air", "assets": spec.assets}, spec=spec)


PERSON_MOTIONS = ("walk", "turn", "wave")  # on their own (sitting would need the chair in the layer too)


def person_layer(rng, source, render, frames: int, fps: int, width: int, height: int, passes,
                 person: dict | None = None) -> Layer:
    """A person on a transparent film over a shadow-catcher floor: colour and alpha hold the body and its
    shadow; ``coverage`` is the body alone (segmentation). ``person``: its body source
    (``scene.people.person_source``)."""
    from datagen.humans.body import body_mesh
    from datagen.scene.people import (MOTION_WORDS, describe_person, draw_person, framing_points, person_camera,
                                      person_meta, pronoun)
    from datagen.scene.simulate import simulate

    env, sun = sky_and_sun(rng, source)
    env = dataclasses.replace(env, floor="plain", floor_shadow_catcher=True, walls=0)
    body, facing = draw_person(rng, "person", PERSON_MOTIONS, person)
    motion = body.motion
    shot = "track" if motion in ("walk", "") else "static"  # recorded motion may go anywhere: follow it
    points, hips = framing_points(body_mesh(body, frames, fps).vertices, shot)
    camera = person_camera(rng, points, hips, facing, shot, height / width)
    spec = SceneSpec(objects=[], bodies=[body], camera=camera, lights=[sun], environment=env,
                     render=dataclasses.replace(render, width=width, height=height), frames=frames, fps=fps)
    out = passes.render(spec, simulate(spec, source=source), "foreground", layers=("rgba", "segmentation"))
    rgba = out["rgba"]
    coverage = out["segmentation"] == spec.segmentation_id(body.name)
    alpha = rgba[..., 3].astype(np.float32) / 255
    # the shadow catcher's alpha is Monte Carlo noise around a smooth shadow (OIDN denoises colour, not
    # alpha): smoothed off the body, whose soft edges stay the film's
    off_body = ~dilate(coverage, 2)
    alpha[off_body] = box3(box3(alpha[..., None]))[..., 0][off_body]
    return Layer(rgba[..., :3].astype(np.float32) / 255, alpha, "rendered",
                 {"phrase": describe_person(body), "motion": MOTION_WORDS[motion], "pronoun": pronoun(body)},
                 {"person": person_meta(body)}, spec=spec, coverage=coverage)


def matte_layer(rng, folder, frames: int, fps: float, height: int) -> Layer:
    name = str(rng.choice(folder.names))
    fgr, pha, meta = folder.load(name, frames, fps, height, rng)
    words = {"phrase": folder.describe(name) or "a person", "motion": "moves naturally", "pronoun": "person"}
    return Layer(fgr.astype(np.float32) / 255, pha.astype(np.float32) / 255, "videomatte", words, meta,
                 anchor_bottom=True)


# -- placement ------------------------------------------------------------------------------------
def placement(rng, frames: int, width: int, height: int, layer_w: int, layer_h: int, anchor_bottom=False) -> dict:
    """An eased path of the layer's centre (x, y in output pixels) and scale (<= 1) over the clip."""
    q0 = float(rng.uniform(0.75, 1.0))
    q1 = float(np.clip(q0 * rng.uniform(0.85, 1.15), 0.6, 1.0))
    x0 = float(rng.uniform(0.3, 0.7)) * width
    x1 = float(np.clip(x0 + rng.uniform(-0.3, 0.3) * width, 0.2 * width, 0.8 * width))
    if anchor_bottom:
        y0 = height - q0 * layer_h / 2 + float(rng.uniform(0.0, 0.1)) * layer_h
        y1 = height - q1 * layer_h / 2 + float(rng.uniform(0.0, 0.1)) * layer_h
    else:
        y0 = float(rng.uniform(0.35, 0.65)) * height
        y1 = float(np.clip(y0 + rng.uniform(-0.15, 0.15) * height, 0.3 * height, 0.7 * height))
    u = np.linspace(0.0, 1.0, frames) if frames > 1 else np.zeros(1)
    s = u * u * (3 - 2 * u)
    return {"centre": np.stack([x0 + (x1 - x0) * s, y0 + (y1 - y0) * s], axis=1), "scale": q0 + (q1 - q0) * s}


def resample_matrix(out_size: int, in_size: int, centre: float, scale: float) -> np.ndarray:
    """(out, in) weights: output pixel centre o + 0.5 sees input coordinate (o + 0.5 - centre) / scale
    + in / 2, area-filtered (k sub-samples per output pixel, k = ceil(1 / scale)) with linear
    interpolation; zero outside the input."""
    k = max(1, int(math.ceil(1.0 / scale)))
    sub = (np.arange(out_size)[:, None] + (np.arange(k)[None, :] + 0.5) / k).ravel()
    pos = (sub - centre) / scale + in_size / 2 - 0.5  # in input pixel-index units
    i0 = np.floor(pos).astype(int)
    w1 = pos - i0
    m = np.zeros((out_size * k, in_size + 2))
    rows = np.arange(out_size * k)
    for idx, w in ((i0, 1.0 - w1), (i0 + 1, w1)):
        inside = (idx >= -1) & (idx <= in_size)
        np.add.at(m, (rows[inside], idx[inside] + 1), w[inside])
    return m[:, 1:-1].reshape(out_size, k, in_size).mean(axis=1)


def place(layer: Layer, path: dict, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """(premultiplied colour (T, H, W, 3), alpha (T, H, W)) of the layer moved along ``path``."""
    t_count, h, w = layer.alpha.shape
    pre = np.concatenate([layer.colour * layer.alpha[..., None], layer.alpha[..., None]], axis=-1).astype(np.float64)
    out = np.empty((t_count, height, width, 4))
    for t in range(t_count):
        (cx, cy), q = path["centre"][t], float(path["scale"][t])
        ay, ax = resample_matrix(height, h, cy, q), resample_matrix(width, w, cx, q)
        out[t] = np.einsum("yh,hwc,xw->yxc", ay, pre[t], ax, optimize=True)
    out = np.clip(out, 0.0, 1.0)
    return np.minimum(out[..., :3], out[..., 3:]), out[..., 3]


def over(premultiplied: np.ndarray, alpha: np.ndarray, background) -> np.ndarray:
    """Float composite of a premultiplied layer over a uint8 or float background."""
    bg = background.astype(np.float64) / 255 if background.dtype == np.uint8 else background
    return premultiplied + (1.0 - alpha[..., None]) * bg


# -- backgrounds ----------------------------------------------------------------------------------
def rendered_background(rng, source, render, frames: int, fps: int, passes, name: str) -> tuple[np.ndarray, SceneSpec]:
    from datagen.scene.simulate import simulate
    from datagen.vera.scenes import background_set

    spec = background_set(rng, source, render, frames, fps)
    video = passes.render(spec, simulate(spec, source=source), name, layers=("rgb",))["rgb"]
    return video, spec


def video_background(rng, folder, frames: int, fps: float, width: int, height: int) -> tuple[np.ndarray, dict]:
    return folder.load(str(rng.choice(folder.names)), frames, fps, width, height, rng)


# -- a sample ------------------------------------------------------------------------------------
def make(rng, task: str, source, render, frames: int, fps: int, cfg, fold, passes, folders: dict,
         subject: str = "object", person: dict | None = None):
    """(clip, description, meta) of one synthetic sample; ``cfg`` is ``vera.synthetic``; ``subject``: object
    (rendered) or person (rendered, or footage by the foreground weights; ``person``: the body source)."""
    from datagen.vera import pick, tasks as T
    from datagen.vera.instructions import describe_background, describe_synthetic
    from datagen.scene.spec import spec_data as data_spec

    width, height = render.width, render.height
    fg_kind = pick(rng, dict(cfg.foreground), FOREGROUNDS) if subject == "person" else "rendered"
    size = float(rng.uniform(*cfg.layer_size))
    if fg_kind == "videomatte":
        layer = matte_layer(rng, folders["videomatte"], frames, fps, even(size * height))
    elif subject == "person":
        layer = person_layer(rng, source, render, frames, fps, even(size * width), even(size * height), passes,
                             person)
    else:
        layer = rendered_layer(rng, source, render, frames, fps, even(size * width), even(size * height), passes)
    path = placement(rng, frames, width, height, layer.alpha.shape[2], layer.alpha.shape[1], layer.anchor_bottom)
    pre, alpha = place(layer, path, width, height)
    if layer.coverage is not None:  # the subject alone (alpha also holds its shadow)
        mask = (place(Layer(np.zeros(layer.colour.shape, np.float32), layer.coverage.astype(np.float32), "", {}),
                      path, width, height)[1] >= 0.5) & (alpha >= 0.5)
    else:
        mask = alpha >= 0.5
    bg_kind = pick(rng, dict(cfg.background), BACKGROUNDS)
    person = layer.meta.pop("person", None)
    meta = {**({"person": person} if person else {}),
            "foreground": {"kind": fg_kind, "size": [int(layer.alpha.shape[2]), int(layer.alpha.shape[1])],
                           **layer.meta, **({"scene": data_spec(layer.spec)} if layer.spec else {})},
            "placement": {"centre": path["centre"].round(3).tolist(), "scale": path["scale"].round(4).tolist()},
            "backgrounds": []}

    def background(name):
        if bg_kind == "rendered":
            video, spec = rendered_background(rng, source, render, frames, fps, passes, name)
            meta["backgrounds"].append({"kind": "rendered", "scene": data_spec(spec)})
            return video, describe_background(spec)
        video, info = video_background(rng, folders["videos"], frames, fps, width, height)
        meta["backgrounds"].append({"kind": "videos", **info})
        return video, describe_background(None, info)

    bg_a, words_a = background("background_A")
    full_a = over(pre, alpha, bg_a)
    words = [words_a]
    if task == "background_change":
        bg_b, words_b = background("background_B")
        words.append(words_b)
        clip = T.background_change(full_a, over(pre, alpha, bg_b), alpha, mask, fold)
    elif task == "object_addition":
        clip = T.object_addition(full_a, bg_a, alpha, mask, fold)
    else:
        clip = T.matting(full_a, bg_a, alpha, mask, fold)
    description = describe_synthetic(layer.description, fg_kind, path, width, height, task, words, mask)
    return clip, description, meta
