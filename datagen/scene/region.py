"""Render a pass only where it can differ from a base pass of the same scene, and copy the rest.

With the same Cycles seed, a border render is bit-identical to the same pixels of a full render
(per-pixel sampling; ``tests/test_region.py`` checks it, adaptive sampling included). So a pass that
differs from a base pass (the same scene with some things hidden, moved or added) only inside
per-frame boxes is rendered inside them and is the base elsewhere. Each frame is checked: where the two
still differ visibly on the inner edge of what was rendered (``seam``: the change averaged over a small
window), the change reaches beyond the box; the rendered area grows there (``grow_at_seam``), and a frame that keeps
leaking is completed in full.

The denoiser is a spatial filter, so a denoised crop is not the denoised full frame: raw beauty and
its guides (albedo, normal) are stitched into full frames first, then each frame is denoised once
(``SceneRenderer.finish``). The base pass must therefore carry ``base_layers(renderer)``.

``influence_boxes`` says where things (objects or bodies) can change the picture, per frame: the
image-space box around them, their shadows on the floor, their mirror image in the floor and the glossy
props that may reflect them. Vera renders its subjects' full render F over the plate P this way, VOID its
C and B passes over A (the removed objects, and the affected ones in both worlds).
"""
from __future__ import annotations

import numpy as np

from datagen.core.rotations import rotate
from datagen.labels.layers import change_levels
from datagen.labels.pixels import neighbour_count
from datagen.scene.geometry import geometry, project

FULL_FRAME_SHARE = 0.9  # a box covering more of the frame than this is rendered in full (no check needed)


GLOSSY_PRESETS = ("metal", "ceramic", "mirror", "glass")  # props that may show the subjects (reflected or refracted)
UNIT_BOX = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)


def corners(source, spec, states, name: str, grow: float = 1.0) -> np.ndarray:
    """(T, 8, 3) world corners of a thing's box along its trajectory, the box scaled by ``grow`` about its
    centre: an object's oriented box from its asset bounds, or a body's axis-aligned box around its posed
    mesh at every frame."""
    bodies = {b.name: b for b in spec.bodies}
    if name in bodies:
        from datagen.humans.body import body_mesh

        verts = body_mesh(bodies[name], spec.frames, spec.fps).vertices  # (T, V, 3)
        lower, upper = verts.min(axis=1), verts.max(axis=1)
        centre, half = (lower + upper) / 2, (upper - lower) / 2 * grow
        return centre[:, None] + UNIT_BOX[None] * half[:, None]
    o = spec.objects[spec.index(name)]
    g = geometry(source, o.asset_id)
    centre, half = (g.lower + g.upper) / 2, (g.upper - g.lower) / 2 * grow
    box = (UNIT_BOX * half + centre) * o.scale
    p, q = states.trajectory(name)
    return np.stack([rotate(q[t], box) + p[t] for t in range(len(p))])


def shadow_points(points: np.ndarray, lights, env=None) -> list[np.ndarray]:
    """Where each light throws ``points`` (..., 3) onto the floor (z = 0) and, given the environment, onto
    its walls (a low sun throws long shadows up the wall behind)."""
    planes = [(np.zeros(3), np.array([0.0, 0.0, 1.0]))] + (wall_planes(env) if env is not None else [])
    out = []
    for light in lights:
        pos, target = np.asarray(light.position, float), np.asarray(light.look_at, float)
        if light.kind == "sun":
            d = np.broadcast_to((target - pos) / np.linalg.norm(target - pos), points.shape)
        else:
            d = points - pos
        for k, (origin, normal) in enumerate(planes):
            dn = d @ normal
            toward = dn < -1e-6  # the light travels into the plane's front face
            s = np.where(toward, ((origin - points) @ normal) / np.where(toward, dn, -1.0), 0.0)
            s = np.clip(s, 0.0, 50.0)[..., None]  # lights behind the plane cast nothing on it
            if k == 0 or toward.any():
                out.append(points + s * d)
    return out


def wall_planes(env) -> list[tuple[np.ndarray, np.ndarray]]:
    """(point on the front face, normal towards the room) of each wall of ``env``."""
    from datagen.scene.build import WALL_THICKNESS

    out = []
    for k, (x, y) in enumerate(((0.0, 1.0), (-1.0, 0.0))[: env.walls]):  # back wall at +Y, side wall at -X
        c, s = np.cos(env.wall_rotation), np.sin(env.wall_rotation)
        outward = np.array([c * x - s * y, s * x + c * y, 0.0])
        face = np.array([*env.wall_center, 0.0]) + (env.wall_distance - WALL_THICKNESS / 2) * outward
        out.append((face, -outward))
    return out


REFLECTIVE_FLOORS = ("mirror", "marble", "tiles", "photo")  # floors glossy enough to show a mirror image


def wall_mirror(points: np.ndarray, env) -> np.ndarray | None:
    """``points`` (..., 3) mirrored in the back wall when it is a mirror (``wall_finish``), else None."""
    if env.walls < 1 or env.wall_finish != "mirror":
        return None
    face, normal = wall_planes(env)[0]
    return points - 2.0 * ((points - face) @ normal)[..., None] * normal


def _image_box(points: np.ndarray, width: int, height: int, margin: float, min_margin: int) -> tuple:
    """The box (row0, row1, col0, col1) around projected points (N, 2), grown by ``margin`` of its size (at
    least ``min_margin`` pixels) and clipped to the frame; empty when it lies outside."""
    (r0, c0), (r1, c1) = points.min(axis=0), points.max(axis=0)
    mr, mc = max(min_margin, margin * (r1 - r0)), max(min_margin, margin * (c1 - c0))
    box = (np.clip(np.floor(r0 - mr), 0, height), np.clip(np.ceil(r1 + mr), 0, height),
           np.clip(np.floor(c0 - mc), 0, width), np.clip(np.ceil(c1 + mc), 0, width))
    return tuple(int(v) for v in box) if box[1] > box[0] and box[3] > box[2] else (0, 0, 0, 0)


def floor_skirt(box: np.ndarray, skirt: float) -> np.ndarray:
    """(T, 12, 3) points on the floor around a thing's box (T, 8, 3): a circle about its centre of radius
    ``skirt`` x (its horizontal half-size + the height of its top). The sky it hides from the floor (soft
    contact shadows, strongest under an HDRI) reaches about that far."""
    centre = box.mean(axis=1)
    half = np.linalg.norm(box[..., :2] - centre[:, None, :2], axis=-1).max(axis=1)
    radius = skirt * (half + np.clip(box[..., 2].max(axis=1), 0.0, None))
    angles = np.linspace(0.0, 2 * np.pi, 12, endpoint=False)
    ring = np.stack([np.cos(angles), np.sin(angles), np.zeros_like(angles)], axis=-1)
    return np.concatenate([centre[:, None, :2], np.zeros((len(box), 1, 1))], axis=-1) + radius[:, None, None] * ring


def influence_boxes(source, spec, states, subjects, grow: float = 1.0, margin: float = 0.04,
                    min_margin: float = 0.02, skirt: float = 0.3) -> np.ndarray:
    """(T, K, 4) int boxes ``row0, row1, col0, col1`` (end-exclusive; (0, 0, 0, 0) is empty) per frame:
    one per subject (an object of ``states`` or a body) holding it, its floor shadows, the floor around it
    that it hides from the sky (``floor_skirt``) and, over a reflective floor, its mirror image; one for its image in a
    mirror wall; and one per glossy or glass prop in view (which may reflect or refract the subjects). Subjects'
    3D boxes are scaled by ``grow`` (colour bleeding and contact shadows around them, blurred reflections);
    each image box is grown by ``margin`` of its size (at least ``min_margin`` of the frame's width: small
    things' soft shadows under an HDRI reach further than their size) and clipped to the frame. A subject point behind
    the camera, or a glowing subject (its light reaches the whole room), gives the whole frame. ``merge_boxes`` joins overlaps."""
    r = spec.render
    min_margin = max(4, int(round(min_margin * r.width)))
    floor_mirror = spec.environment.floor in REFLECTIVE_FLOORS
    per_subject = []
    for name in subjects:
        body = corners(source, spec, states, name, grow)
        parts = [body, *shadow_points(body, spec.lights, spec.environment), floor_skirt(body, skirt)] + \
            ([body * np.array([1.0, 1.0, -1.0])] if floor_mirror else [])
        mirrored = wall_mirror(np.concatenate(parts, axis=1), spec.environment)
        if mirrored is not None:  # all of it seen in a mirror wall is its own box (far from the thing itself)
            per_subject.append(project(spec.camera, spec.frames, r.width, r.height, mirrored))
        per_subject.append(project(spec.camera, spec.frames, r.width, r.height, np.concatenate(parts, axis=1)))
    glossy = [project(spec.camera, spec.frames, r.width, r.height, corners(source, spec, _still(spec, states, o.name), o.name))
              for o in spec.objects if o.name not in subjects and o.material.preset in GLOSSY_PRESETS]
    boxes = np.zeros((spec.frames, len(per_subject) + len(glossy), 4), int)
    glowing = any(o.material.emission > 0 for o in spec.objects if o.name in subjects)  # lights the whole room
    for t in range(spec.frames):
        for k, pts in enumerate(per_subject):
            boxes[t, k] = (0, r.height, 0, r.width) if glowing or not np.isfinite(pts[t]).all() else \
                _image_box(pts[t], r.width, r.height, margin, min_margin)
        for k, prop in enumerate(glossy, start=len(per_subject)):
            behind = ~np.isfinite(prop[t]).all(axis=-1)
            if behind.all():
                continue
            if behind.any():  # partly behind the camera: it may fill the picture
                boxes[t, k] = (0, r.height, 0, r.width)
                continue
            boxes[t, k] = _image_box(prop[t], r.width, r.height, 0.0, min_margin)
    return boxes


def merge_boxes(boxes) -> list[tuple[int, int, int, int]]:
    """One frame's boxes (K, 4) as disjoint-enough rectangles: overlapping or touching boxes are replaced by
    the box around them until none overlap; empty boxes dropped. Sorted, so the result is deterministic."""
    out = [tuple(int(v) for v in b) for b in np.asarray(boxes).reshape(-1, 4) if b[1] > b[0] and b[3] > b[2]]
    merged = True
    while merged:
        merged = False
        for i in range(len(out)):
            for j in range(i + 1, len(out)):
                a, b = out[i], out[j]
                if a[0] <= b[1] and b[0] <= a[1] and a[2] <= b[3] and b[2] <= a[3]:
                    out[i] = (min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3]))
                    del out[j]
                    merged = True
                    break
            if merged:
                break
    return sorted(out)


def join_boxes(*boxes: np.ndarray) -> np.ndarray:
    """Several (T, K_i, 4) box sets of the same frames as one (T, sum K_i, 4)."""
    return np.concatenate([np.asarray(b).reshape(len(b), -1, 4) for b in boxes], axis=1)


def _still(spec, states, name):
    """States with an object (e.g. a static prop missing from ``states``) at its spec pose."""
    from datagen.scene.simulate import WorldStates

    if name in states.names:
        return states
    o = spec.objects[spec.index(name)]
    t = len(states.positions)
    return WorldStates([name], np.tile(np.asarray(o.position, float), (t, 1, 1)),
                       np.tile(np.asarray(o.quaternion, float), (t, 1, 1)), np.zeros((t, 1, 3)), np.zeros((t, 1, 3)))


def raw_layers(renderer) -> tuple[str, ...]:
    """The beauty layers a stitched frame is made of: the raw display frame, plus the raw linear frame and
    the denoiser's guides when the denoiser is on."""
    return ("rgb_raw", "linear", "albedo", "normal") if renderer.spec.render.denoise else ("rgb",)


def beauty_layers(renderer) -> tuple[str, ...]:
    """The delivered beauty and, with the denoiser on, the raw one labels read."""
    return ("rgb", "rgb_raw") if renderer.spec.render.denoise else ("rgb",)


def base_layers(renderer) -> tuple[str, ...]:
    """What a base pass must render so that region passes can be stitched into it (with ``rgb``)."""
    return tuple(dict.fromkeys(("rgb", *raw_layers(renderer))))


def raw(layers: dict) -> np.ndarray:
    """A pass's undenoised display frames (the delivered ones when the denoiser is off)."""
    return layers["rgb_raw"] if "rgb_raw" in layers else layers["rgb"]


def seam(full: np.ndarray, base: np.ndarray, inside: np.ndarray, threshold: float = 2.0, window: int = 9,
         ring: int = 2) -> np.ndarray:
    """(H, W) the pixels on the inner edge of the rendered area ``inside`` (``ring`` pixels wide, frame edges
    excepted) where the signed change between a frame and its base, averaged over the rendered pixels of a
    ``window`` x ``window`` neighbourhood (mean over channels, grey levels), exceeds ``threshold``: a visible
    seam. Averaging tells a real change (a shadow, the soft occlusion of the sky under an HDRI) from the
    scatter of paths that touched what changed, which at a few samples per pixel reaches far at full
    per-pixel strength but averages out."""
    from scipy import ndimage

    if not inside.any():
        return np.zeros_like(inside)
    mean = averaged_change(full, base, window, inside)
    outside = np.pad(~inside, 1, constant_values=False)  # beyond the frame is no seam
    near_outside = ndimage.binary_dilation(outside, iterations=ring)[1:-1, 1:-1]
    return inside & near_outside & (np.abs(mean) > threshold)


def grow_at_seam(seam_pixels: np.ndarray, done: np.ndarray, step: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """Rectangles to render next where the change crossed the edge of what is ``done``: the pixels within
    ``step`` (rows, columns) of the seam pixels that are not done yet, as the boxes around their connected
    parts (merged where they touch). Only the stretch of an edge the change crosses grows, not the whole
    side: a shadow leaving a box through one corner costs a patch there, not a strip along the box."""
    from scipy import ndimage

    reach = ndimage.maximum_filter(seam_pixels.astype(np.uint8), size=(2 * step[0] + 1, 2 * step[1] + 1)) > 0
    parts = ndimage.find_objects(ndimage.label(reach & ~done)[0])
    return merge_boxes(np.array([(s[0].start, s[0].stop, s[1].start, s[1].stop) for s in parts]).reshape(-1, 4))


def uncovered(rect, done: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Rectangles that together cover every pixel of ``rect`` not yet ``done`` (the band above, below, left and
    right of what is done inside it, and any hole within), each shrunk to its undone pixels."""
    r0, r1, c0, c1 = rect
    sub = done[r0:r1, c0:c1]
    if not sub.any():
        return [tuple(rect)]
    rows, cols = np.nonzero(sub)
    i0, i1, j0, j1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    bands = [(0, i0, 0, c1 - c0), (i1, r1 - r0, 0, c1 - c0), (i0, i1, 0, j0), (i0, i1, j1, c1 - c0), (i0, i1, j0, j1)]
    out = []
    for a0, a1, b0, b1 in bands:
        todo = ~sub[a0:a1, b0:b1]
        if todo.size and todo.any():
            rr, cc = np.nonzero(todo)
            out.append((r0 + a0 + rr.min(), r0 + a0 + rr.max() + 1, c0 + b0 + cc.min(), c0 + b0 + cc.max() + 1))
    return [tuple(int(v) for v in b) for b in out]


def averaged_change(full: np.ndarray, base: np.ndarray, window: int = 9, inside: np.ndarray | None = None) -> np.ndarray:
    """(H, W) signed change between two frames (mean over channels, grey levels) averaged over each pixel's
    ``window`` x ``window`` neighbourhood, counting only the pixels of ``inside`` (default all): what a real
    change leaves once the scatter of a few samples per pixel averages out."""
    from scipy import ndimage

    inside = np.ones(full.shape[:2], bool) if inside is None else inside
    diff = np.where(inside, (full.astype(np.float32) - base.astype(np.float32)).mean(axis=-1), 0.0)
    weight = ndimage.uniform_filter(inside.astype(np.float32), size=window, mode="constant")
    return ndimage.uniform_filter(diff, size=window, mode="constant") / np.maximum(weight, 1e-6)


def render_region(renderer, visibility, layers, boxes, base: dict, frames=None, threshold: float = 2.0,
                  window: int = 9, grow_step: float = 0.06, max_grows: int = 6) -> tuple[dict, dict]:
    """One pass of ``renderer`` rendered only inside per-frame ``boxes`` ((T, 4) or (T, K, 4): row0, row1, col0,
    col1, end-exclusive; overlapping boxes are merged, each rectangle is one border render; a frame without
    boxes copies the base frame), stitched into ``base`` (a full pass over all the
    clip's frames with ``base_layers``; label layers it lacks are 0 outside the boxes).

    Where a frame's change still crosses the edge of what was rendered (``seam``), the pixels within
    ``grow_step`` of the frame beyond the crossing are rendered next (``grow_at_seam``), up to ``max_grows`` times;
    a frame still leaking then, or grown to most of the frame, gets the rest of its pixels rendered (a full
    frame, no pixel twice). So a box that is a little small costs a patch, not a frame.

    ``layers``: what to return (``rgb`` delivered, ``rgb_raw``, label layers, and the film layers when another
    region pass will be stitched into this one: ``base_layers``); ``frames``: which frames
    (default all; the result has that many). Returns (layers, report): ``beauty_pixels`` rendered (boxes,
    patches and full frames), ``frames``, ``grown_frames`` (how many frames grew and then held) and
    ``full_frames`` (0-based indices of the frames completed in full after their box still leaked).
    """
    h, w = renderer.spec.render.height, renderer.spec.render.width
    frames = list(range(renderer.spec.frames)) if frames is None else [int(f) for f in frames]
    film = raw_layers(renderer)
    missing = [k for k in film if k not in base]
    if missing:
        raise ValueError(f"the base pass lacks {missing}: render it with base_layers(renderer)")
    labels = tuple(k for k in layers if k not in ("rgb", "rgb_raw", "linear", "albedo", "normal"))
    wanted = tuple(dict.fromkeys((*film, *labels)))
    out: dict[str, list] = {k: [] for k in dict.fromkeys((*film, *labels))}
    step = (max(window, int(round(grow_step * h))), max(window, int(round(grow_step * w))))
    pixels, fallback, grown = 0, [], 0
    for f in frames:
        rects = merge_boxes(boxes[f])
        area = _area(rects)
        frame = {k: (base[k][f] if k in base else None) for k in out}
        full = not 0 < area < FULL_FRAME_SHARE * h * w
        if not full:
            done, todo = np.zeros((h, w), bool), rects
            for attempt in range(max_grows + 2):
                for r0, r1, c0, c1 in todo:
                    part = renderer.render(visibility, layers=wanted, frames=[f], border=(r0, r1, c0, c1))
                    for k in out:
                        frame[k] = frame[k].copy() if frame[k] is not None else np.zeros_like(part[k][0])
                        frame[k][r0:r1, c0:c1] = part[k][0, r0:r1, c0:c1]
                    done[r0:r1, c0:c1] = True
                pixels += _area(todo)
                if done.all():
                    break
                crossing = seam(frame[film[0]], raw(base)[f], done, threshold, window)
                if not crossing.any():
                    break
                todo = [b for rect in grow_at_seam(crossing, done, step) for b in uncovered(rect, done)]
                if attempt >= max_grows or done.sum() + _area(todo) >= FULL_FRAME_SHARE * h * w:
                    fallback.append(f)  # the rest of the frame, so it is the full render's (no pixel twice)
                    todo = uncovered((0, h, 0, w), done)
            grown += attempt > 0 and f not in fallback
        if full and area:
            part = renderer.render(visibility, layers=wanted, frames=[f])
            frame = {k: part[k][0] for k in out}
            pixels += h * w
        for k in out:
            out[k].append(frame[k] if frame[k] is not None else _zero_label(k, h, w))
    stacked = {k: np.stack(v) for k, v in out.items()}
    result = {k: stacked[k] for k in labels}
    result.update({k: stacked[k] for k in film if k in layers and k != "rgb"})  # to stitch another pass into this
    if "rgb_raw" in layers:
        result["rgb_raw"] = raw(stacked)
    if "rgb" in layers:
        if renderer.spec.render.denoise:
            result["rgb"] = np.stack([renderer.finish(*(stacked[k][i] for k in ("linear", "albedo", "normal")))
                                      for i in range(len(frames))])
        else:
            result["rgb"] = stacked["rgb"]
    return result, {"beauty_pixels": int(pixels), "frames": len(frames), "grown_frames": int(grown),
                    "full_frames": fallback}


def _area(rects) -> int:
    """Pixels of rectangles (row0, row1, col0, col1), counted once per rectangle."""
    return sum((r1 - r0) * (c1 - c0) for r0, r1, c0, c1 in rects)


def _zero_label(key: str, h: int, w: int) -> np.ndarray:
    """A zero frame for a label layer no frame of this pass rendered (every box empty)."""
    shapes = {"segmentation": ((h, w), np.uint16), "depth": ((h, w), np.float32),
              "forward_flow": ((h, w, 2), np.float32), "backward_flow": ((h, w, 2), np.float32),
              "object_coordinates": ((h, w, 3), np.uint16)}
    shape, dtype = shapes[key]
    return np.zeros(shape, dtype)
