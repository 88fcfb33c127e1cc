"""Where a subject can change the picture, per frame: the image-space box around its body, its
shadows on the floor, its mirror image in the floor and the glossy props that may reflect it.

The full render F only differs from the plate P inside that box (up to render noise, which is
folded anyway), and Cycles renders a border region bit-identically to the same pixels of a full
frame (same seed, per-pixel sampling; ``tests/test_vera.py`` checks it). So F is rendered only
inside the box and is P elsewhere. Each frame is checked: if F and P still differ coherently on
the box's edge, the effect reaches beyond it and the frame is rendered in full instead.
"""
from __future__ import annotations

import numpy as np

from datagen.core.rotations import rotate
from datagen.scene.geometry import geometry
from datagen.labels.layers import change_levels
from datagen.labels.pixels import neighbour_count
from datagen.vera.scenes import project

GLOSSY_PRESETS = ("metal", "ceramic")



def corners(source, spec, states, name: str, grow: float = 1.0) -> np.ndarray:
    """(T, 8, 3) world corners of an object's box along its trajectory, the box scaled by ``grow``
    about its centre."""
    o = spec.objects[spec.index(name)]
    g = geometry(source, o.asset_id)
    centre, half = (g.lower + g.upper) / 2, (g.upper - g.lower) / 2 * grow
    box = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]) * half + centre
    box = box * o.scale
    p, q = states.trajectory(name)
    return np.stack([rotate(q[t], box) + p[t] for t in range(len(p))])


def shadow_points(points: np.ndarray, lights) -> list[np.ndarray]:
    """Where each light throws ``points`` (..., 3) onto the floor (z = 0)."""
    out = []
    for light in lights:
        pos, target = np.asarray(light.position, float), np.asarray(light.look_at, float)
        if light.kind == "sun":
            d = np.broadcast_to((target - pos) / np.linalg.norm(target - pos), points.shape)
        else:
            d = points - pos
        dz = np.where(np.abs(d[..., 2]) > 1e-6, d[..., 2], -1e-6)
        s = np.clip(-points[..., 2] / dz, 0.0, 50.0)[..., None]  # lights below the point cast nothing down
        out.append(points + s * d)
    return out


def influence_boxes(source, spec, states, subjects, grow: float = 1.6, margin: float = 0.08,
                    min_margin: int = 4) -> np.ndarray:
    """(T, 4) int boxes ``row0, row1, col0, col1`` (end-exclusive) of each frame that hold the
    subjects, their floor shadows, their mirror images and the glossy props in view (which may
    reflect them). The subjects' boxes are scaled by ``grow`` (colour bleeding and contact shadows
    around them, blurred glossy reflections) and the image box grown by ``margin`` of its size (at
    least ``min_margin`` pixels), clipped to the frame. A subject point behind the camera gives the
    whole frame."""
    r = spec.render
    body = np.concatenate([corners(source, spec, states, n, grow) for n in subjects], axis=1)
    mirror = body * np.array([1.0, 1.0, -1.0])
    must = project(spec.camera, spec.frames, r.width, r.height,
                   np.concatenate([body, mirror, *shadow_points(body, spec.lights)], axis=1))
    glossy = [project(spec.camera, spec.frames, r.width, r.height, corners(source, spec, _still(spec, states, o.name), o.name))
              for o in spec.objects if o.name not in subjects and o.material.preset in GLOSSY_PRESETS]
    boxes = np.zeros((spec.frames, 4), int)
    for t in range(spec.frames):
        if not np.isfinite(must[t]).all():
            boxes[t] = (0, r.height, 0, r.width)
            continue
        pts = [must[t]]
        for prop in glossy:
            behind = ~np.isfinite(prop[t]).all(axis=-1)
            if behind.all():
                continue
            if behind.any():  # partly behind the camera: it may fill the picture
                pts.append(np.array([[0.0, 0.0], [r.height, r.width]]))
                continue
            (p0, q0), (p1, q1) = prop[t].min(axis=0), prop[t].max(axis=0)
            if p1 >= 0 and q1 >= 0 and p0 <= r.height and q0 <= r.width:  # in view
                pts.append(prop[t])
        rc = np.concatenate(pts)
        (r0, c0), (r1, c1) = rc.min(axis=0), rc.max(axis=0)
        mr, mc = max(min_margin, margin * (r1 - r0)), max(min_margin, margin * (c1 - c0))
        boxes[t] = (np.clip(np.floor(r0 - mr), 0, r.height), np.clip(np.ceil(r1 + mr), 0, r.height),
                    np.clip(np.floor(c0 - mc), 0, r.width), np.clip(np.ceil(c1 + mc), 0, r.width))
    return boxes


def _still(spec, states, name):
    """States with an object (e.g. a static prop missing from ``states``) at its spec pose."""
    from datagen.scene.simulate import WorldStates

    if name in states.names:
        return states
    o = spec.objects[spec.index(name)]
    t = len(states.positions)
    return WorldStates([name], np.tile(np.asarray(o.position, float), (t, 1, 1)),
                       np.tile(np.asarray(o.quaternion, float), (t, 1, 1)), np.zeros((t, 1, 3)), np.zeros((t, 1, 3)))


def leaks(full: np.ndarray, plate: np.ndarray, box, threshold: float = 2.0, min_neighbours: int = 2,
          ring: int = 2) -> int:
    """How many pixels on the box's inner edge (``ring`` pixels wide, frame edges excepted) change
    coherently between F and P: a non-zero count means the subject's effect crosses the box."""
    r0, r1, c0, c1 = (int(v) for v in box)
    h, w = full.shape[:2]
    changed = change_levels(full[r0:r1, c0:c1], plate[r0:r1, c0:c1]) > threshold
    coherent = changed & (neighbour_count(changed) >= min_neighbours)
    edge = np.zeros_like(coherent)
    if r0 > 0:
        edge[:ring] = True
    if r1 < h:
        edge[-ring:] = True
    if c0 > 0:
        edge[:, :ring] = True
    if c1 < w:
        edge[:, -ring:] = True
    return int((coherent & edge).sum())
