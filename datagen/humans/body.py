"""A ``BodySpec`` to per-frame skinned vertices: what the renderer shows and the scene places.

The spec names the motion (a HUMOTO sequence, or an AMASS-style SMPL-X npz) and the body; the
vertices are derived from them the same way in every process, and cached per process, so the
scene builder (camera placement, support tests) and every render pass agree without shipping
meshes around.
"""
from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from datagen.humans import humoto

REGIONS = ("skin", "shirt", "trousers", "shoes")
# SMPL-X joints (body part of the 55) by the clothing that covers them; its feet (ankle and foot joints)
_SMPLX_REGIONS = {"shoes": (7, 8, 10, 11), "trousers": (0, 1, 2, 4, 5), "shirt": (3, 6, 9, 13, 14, 16, 17),
                  "sleeves": (18, 19)}
_SMPLX_FEET = {"Left": (7, 10), "Right": (8, 11)}


@dataclass
class BodyMesh:
    vertices: np.ndarray  # (T, V, 3) float32, world
    faces: np.ndarray  # (F, 3)
    regions: np.ndarray  # (V,) index into ``region_names``
    feet: dict[str, np.ndarray]  # "Left"/"Right" -> vertex indices of the foot (``contact.foot_slide``)
    region_names: tuple[str, ...] = REGIONS


@functools.lru_cache(maxsize=8)
def _sequence(sequence: str, objects_dir: str | None, frames: int, mode: str, fps: float, start: float):
    seq = humoto.load_sequence(sequence, objects_dir)
    return humoto.resample(seq, frames, mode, fps, start)


def sequence_for(body, frames: int, fps: float) -> humoto.HumotoSequence:
    """The body's HUMOTO sequence resampled to the clip (objects' recorded motion included)."""
    return _sequence(str(body.sequence), body.objects_dir, int(frames), body.resample, float(fps), float(body.start))


def body_mesh(body, frames: int, fps: float) -> BodyMesh:
    return _body_mesh(json.dumps(asdict(body), sort_keys=True), int(frames), float(fps))


@functools.lru_cache(maxsize=4)
def _body_mesh(body_json: str, frames: int, fps: float) -> BodyMesh:
    body = SimpleNamespace(**json.loads(body_json))  # a BodySpec's fields
    if body.model == "anny":
        from datagen.humans import anny_body

        model = anny_body.anny_model()
        rest = anny_body.rest_pose(model, body.phenotype)
        source = _procedural(model, body, rest, frames, fps) if body.motion else sequence_for(body, frames, fps).heads()
        poses, _ = anny_body.retarget(source, rest, model.bone_labels)
        vertices = anny_body.skin(model, body.phenotype, poses)
        regions = anny_body.vertex_regions(model, body.sleeves)
        return BodyMesh(vertices, np.asarray(model.faces, dtype=np.int64), regions, anny_body.foot_vertices(model))
    from datagen.humans import smplx_body

    if body.motion:
        raise ValueError(f"procedural motion {body.motion!r} drives anny bodies only (SMPL-X takes AMASS-style motion)")
    if not body.smplx_model or not body.smplx_motion:
        raise ValueError("body model smplx needs humoto.smplx.model (SMPL-X model file or folder) "
                         "and humoto.smplx.motion (AMASS-style npz folder or file)")
    motion = smplx_body.load_amass_motion(smplx_motion_path(body.smplx_motion, Path(body.sequence).name))
    smplx = smplx_model(body.smplx_model, motion.gender)
    times = humoto.sample_times(motion_frames(motion), frames, body.resample, fps, motion_fps(motion), body.start)
    vertices = smplx.vertices(smplx_body.sample_motion(motion, times)).astype(np.float32)
    weights = smplx.model.lbs_weights.detach().cpu().numpy()
    main = weights.argmax(1)
    regions = np.zeros(len(main), dtype=np.int64)
    for region, joints in _SMPLX_REGIONS.items():
        if region == "sleeves" and not body.sleeves:
            continue
        regions[np.isin(main, joints)] = REGIONS.index("shirt" if region == "sleeves" else region)
    feet = {side: np.flatnonzero(np.isin(main, joints)) for side, joints in _SMPLX_FEET.items()}
    return BodyMesh(vertices, np.asarray(smplx.faces, dtype=np.int64), regions, feet)


def _procedural(model, body, rest, frames: int, fps: float) -> np.ndarray:
    """Source heads (T, 65, 3) of a procedural motion made on the body's own skeleton and played in real
    time at the clip's ``fps`` (``fixtures.real_time``), so its feet, seat and hands land where the script
    puts them; a seated body's hips rise by however deep its flesh would sink into the seat."""
    from datagen.humans import anny_body, fixtures

    skeleton = anny_body.rest_skeleton(model, body.phenotype)
    length, times = fixtures.real_time(frames, fps)
    script = fixtures.script(body.motion, length, skeleton)

    def animate():
        heads = fixtures.animate(script, skeleton)[1]
        i0 = np.floor(times).astype(int)
        i1, u = np.minimum(i0 + 1, length - 1), (times - i0)[:, None, None]
        return heads[i0] * (1 - u) + heads[i1] * u

    source = animate()
    for _ in range(6 if script.seat is not None else 0):  # raising the hips also tilts the thighs: iterate
        poses, _ = anny_body.retarget(source[-1:], rest, model.bone_labels)
        depth = fixtures.seat_depth(script, anny_body.skin(model, body.phenotype, poses)[0])
        if depth <= 0.002:
            break
        script.seat_hips += depth + 0.003
        source = animate()
    return source


@functools.lru_cache(maxsize=3)
def smplx_model(model: str, gender: str):
    """The SMPL-X model of the motion's gender (AMASS fits shapes to gendered models), the neutral
    one when the folder has no file for that gender; one per process and gender, never per sample."""
    from datagen.humans import smplx_body

    try:
        path = smplx_body.find_model_file(model, gender)
    except FileNotFoundError:
        if gender == "neutral" or not Path(model).is_dir():
            raise
        gender, path = "neutral", smplx_body.find_model_file(model, "neutral")
    return smplx_body.SmplxBody(path, gender)


def smplx_motion_path(motion: str, sequence: str) -> Path:
    """A folder of ``<sequence>.npz`` files, or one npz used for every sequence."""
    path = Path(motion)
    if path.is_dir():
        path = path / f"{sequence}.npz"
    if not path.is_file():
        raise FileNotFoundError(f"SMPL-X motion not found: {path}")
    return path


def motion_frames(motion) -> int:
    return len(motion.trans)


def motion_fps(motion) -> float:
    return float(motion.fps)
