"""A human-removal scene: one HUMOTO sequence as a ``SceneSpec`` plus both worlds of its objects.

Factual world: the objects follow the recording (the person carries, pushes, sets down). The
counterfactual world has no person: each object is *physics* (a PyBullet rigid body released
from its frame-0 pose, so a held mug falls) or *static* (frozen at its frame-0 pose). Modes come
from a VOID-style config file ``{sequence: {"physics_objects": [...], "static_objects": [...]}}``;
objects it does not name get the automatic rule: an object that rests on the floor or on another
object's top at frame 0 is static, anything else (held in the air) is physics, and furniture is
always static.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from datagen.core.rotations import angular_velocity, rotate, rotation_angle
from datagen.core.sections import Section
from datagen.humans import objects as humoto_objects
from datagen.humans import skeleton as sk
from datagen.humans.body import body_mesh, sequence_for
from datagen.scene.people import CLOTHES, SKIN, person_camera
from datagen.scene.random_scene import PALETTE, sky_and_sun
from datagen.scene.simulate import WorldStates
from datagen.scene.spec import BodySpec, CameraSpec, LightSpec, MaterialSpec, ObjectSpec, RenderSpec, SceneSpec

if TYPE_CHECKING:
    from datagen.void.pairs import MaskConfig

MODES = ("physics", "static")
SUPPORT_GAP = 0.02  # metres between an object's lowest point and a surface that still supports it


@dataclass
class HumanScene:
    spec: SceneSpec  # objects at their frame-0 poses with static flags: the counterfactual's start
    factual: WorldStates  # the recorded object motion
    modes: dict[str, str]
    story: dict = field(default_factory=dict)



def read_physics_config(config: str) -> dict[str, dict[str, str]]:
    """A VOID-style physics config ``{sequence: {"physics_objects": [...], "static_objects": [...]}}``
    as ``{sequence: {object: mode}}``; ValueError (one line) for anything else."""
    path = Path(config)
    if not path.is_file():
        raise FileNotFoundError(f"humoto.physics_config not found: {path}")
    try:
        data = json.loads(path.read_text())
    except ValueError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected {{sequence: {{physics_objects: [...], static_objects: [...]}}}}")
    out = {}
    for sequence, entry in data.items():
        entry = entry or {}
        if not isinstance(entry, dict):
            raise ValueError(f"{path}: {sequence}: expected {{physics_objects: [...], static_objects: [...]}}")
        modes: dict[str, str] = {}
        for key, mode in (("physics_objects", "physics"), ("static_objects", "static")):
            names = entry.get(key, [])
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ValueError(f"{path}: {sequence}: {key} must be a list of object names")
            for n in names:
                if n in modes:
                    raise ValueError(f"{path}: {sequence}: {n!r} is listed as both physics and static")
                modes[n] = mode
        out[sequence] = modes
    return out


def read_modes(config: str | None, sequence: str) -> dict[str, str]:
    """Object modes a VOID-style physics config gives ``sequence`` ({} when it has none)."""
    return read_physics_config(config).get(sequence, {}) if config else {}


def automatic_modes(names: list[str], vertices: dict[str, np.ndarray]) -> dict[str, str]:
    """Furniture is static; so is an object resting at frame 0 on the floor or on top of a static
    object (repeated, so a cup on a plate on a table is static); everything else (held in the
    air, or resting on something held) is physics. ``vertices``: world vertices at frame 0."""
    static = {n for n in names if humoto_objects.kind(n)[0] == humoto_objects.FURNITURE}
    static |= {n for n in names if float(vertices[n][:, 2].min()) <= SUPPORT_GAP}
    grown = True
    while grown:
        grown = False
        for n in names:
            if n in static:
                continue
            v = vertices[n]
            low, lo_xy, hi_xy = float(v[:, 2].min()), v[:, :2].min(0), v[:, :2].max(0)
            for other in sorted(static):
                w = vertices[other]
                top = float(w[:, 2].max())
                overlap = (w[:, :2].min(0) < hi_xy).all() and (w[:, :2].max(0) > lo_xy).all()
                if overlap and top - 0.5 * SUPPORT_GAP <= low <= top + SUPPORT_GAP:
                    static.add(n)
                    grown = True
                    break
    return {n: "static" if n in static else "physics" for n in names}


def _place_walls(env, camera: CameraSpec, points: np.ndarray, frames: int, gap: float) -> None:
    """Walls around the action, on the far side of it from the camera (the back wall faces the
    camera, the side wall runs beside the line of sight), ``gap`` metres beyond the farthest point
    of body and objects and never between the camera and the action, whatever its motion."""
    centre = np.array(camera.look_at[:2], float)
    offset = np.array(camera.position[:2], float) - centre
    env.wall_center = (float(centre[0]), float(centre[1]))
    # the back wall's normal (+Y at rotation 0) points away from the camera
    env.wall_rotation = float(math.atan2(offset[1], offset[0]) + math.pi / 2)
    r = env.wall_rotation
    normals = [np.array([-math.sin(r), math.cos(r)]), np.array([-math.cos(r), -math.sin(r)])][: env.walls]
    distance = float(np.linalg.norm(points[:, :2] - centre, axis=1).max()) + gap
    for pos, _, _ in camera.poses(frames):
        for n in normals:
            distance = max(distance, float((np.asarray(pos[:2]) - centre) @ n) + 0.5)
    env.wall_distance = distance


@dataclass
class HumotoConfig(Section):
    """``humoto:`` of void_counterfactuals.yaml (source=humoto): where the sequences, objects and bodies come
    from and how the scene around them is drawn."""
    SECTION: ClassVar = ("void_counterfactuals", "humoto")
    root: str | None  # HUMOTO sequences (<name>/<name>.pkl, .yaml); None: the procedural fixtures
    objects: str | None  # object meshes; None: <root>/objects
    sequences: list | None  # names to use; None: every sequence under root, in turn
    physics_config: str | None  # VOID-style JSON of physics and static objects per sequence
    resample: str  # whole | fps
    body: str  # anny | smplx
    smplx: dict  # {model, motion}: SMPL-X model file or folder, AMASS-style motion
    walls: bool | None  # None: 0-2 walls at random
    camera_motion: str | None  # static | zoom | orbit | track; None: random
    mask: dict  # over void.mask for human removal (void_counterfactuals.mask_config merges them)


def build_scene(rng: np.random.Generator, sequence: str, render: RenderSpec, frames: int, fps: int,
                physics_rate: int, humoto: HumotoConfig, mask: "MaskConfig", scene_library=None) -> HumanScene:
    """The spec, the factual world (the recording) and the story of one sequence (``sequence``: its folder).
    ``mask``'s position and rotation tolerances decide which recorded objects never moved; ``scene_library``:
    the asset source the environment (HDRI, floor) is drawn from (None: the sky)."""
    body_model, physics_config, camera_motion = humoto.body, humoto.physics_config, humoto.camera_motion
    walls, resample, objects_dir = humoto.walls, humoto.resample, humoto.objects
    smplx_model, smplx_motion = humoto.smplx["model"], humoto.smplx["motion"]
    still_position, still_rotation = mask.position_tolerance, mask.rotation_tolerance
    body = BodySpec(name="person", model=body_model, sequence=str(sequence), objects_dir=objects_dir,
                    smplx_model=smplx_model, smplx_motion=smplx_motion, resample=resample,
                    phenotype={"gender": float(rng.uniform(0, 1)), "muscle": float(rng.uniform(0.3, 0.7)),
                               "weight": float(rng.uniform(0.3, 0.7))} if body_model == "anny" else {},
                    skin_color=SKIN[int(rng.integers(len(SKIN)))],
                    shirt_color=CLOTHES[int(rng.integers(len(CLOTHES)))],
                    trousers_color=CLOTHES[int(rng.integers(len(CLOTHES)))],
                    shoes_color=CLOTHES[int(rng.integers(len(CLOTHES)))], sleeves=bool(rng.random() < 0.6))
    seq = sequence_for(body, frames, fps)
    names = list(seq.objects)
    library = humoto_objects.object_library(seq.meshes)
    com = {n: humoto_objects.centre_of_mass(seq.meshes[n]) for n in names}
    q = seq.object_quaternions.copy()  # the sequence is cached: never modify it in place
    pos = np.stack([seq.object_positions[:, k] + rotate(q[:, k], com[n]) for k, n in enumerate(names)], 1) \
        if names else np.zeros((frames, 0, 3))
    # an object whose recording never leaves its frame-0 pose by more than the tolerances was not
    # moved: what it shows is capture noise, which would otherwise count as motion nobody caused
    still = []
    for k, n in enumerate(names):
        if np.abs(pos[:, k] - pos[0, k]).max() <= still_position and \
                rotation_angle(q[:, k], np.broadcast_to(q[0, k], q[:, k].shape)).max() <= still_rotation:
            pos[:, k], q[:, k] = pos[0, k], q[0, k]
            still.append(n)
    vel = np.gradient(pos, axis=0) * fps if frames > 1 else np.zeros_like(pos)
    factual = WorldStates(names=names, positions=pos, quaternions=q, velocities=vel,
                          angular_velocities=angular_velocity(q, fps))
    # modes: config first, the automatic rule for the rest
    first = {}
    for k, n in enumerate(names):
        v = humoto_objects.load_mesh(seq.meshes[n]).vertices
        first[n] = seq.object_positions[0, k] + rotate(np.broadcast_to(q[0, k], (len(v), 4)), v)
    configured = read_modes(physics_config, seq.name)
    unknown = set(configured) - set(names)
    if unknown:
        raise ValueError(f"humoto.physics_config names objects not in {seq.name}: {sorted(unknown)}")
    modes = {**automatic_modes(names, first), **configured}
    objs = []
    for k, n in enumerate(names):
        category, preset, _ = humoto_objects.kind(n)
        colour = PALETTE[int(rng.integers(len(PALETTE)))]
        objs.append(ObjectSpec(name=n, asset_id=n, material=MaterialSpec(preset=preset, color=colour),
                               position=tuple(float(x) for x in pos[0, k]),
                               quaternion=tuple(float(x) for x in q[0, k]), static=modes[n] == "static"))
    env, sun = sky_and_sun(rng, scene_library)
    mesh = body_mesh(body, frames, fps)
    hips = seq.heads()[:, 0]
    points = np.concatenate([mesh.vertices[::max(1, frames // 8)].reshape(-1, 3)[::7],
                             pos.reshape(-1, 3)]) if names else mesh.vertices.reshape(-1, 3)[::7]
    # the person faces -Y at rest: its mean facing from the hips' left-right axis over the clip
    heads = seq.heads()
    left = heads[:, sk.INDEX[sk.P + "LeftUpLeg"]] - heads[:, sk.INDEX[sk.P + "RightUpLeg"]]
    facing = float(np.arctan2(left[:, 1].mean(), left[:, 0].mean()))  # 0: facing -Y
    camera = person_camera(rng, points, hips, facing, camera_motion, render.height / render.width)
    env.walls = int(rng.integers(0, 3)) if walls is None else (2 if walls else 0)
    _place_walls(env, camera, points, frames, float(rng.uniform(0.6, 1.5)))
    fill = LightSpec(kind="area", position=tuple(float(x) for x in np.array(camera.position) + [0, 0, 1.5]),
                     look_at=camera.look_at, intensity=float(rng.uniform(150, 300)), size=2.0)
    spec = SceneSpec(objects=objs, bodies=[body], camera=camera, lights=[sun, fill], environment=env,
                     render=render, frames=frames, fps=fps, physics_rate=physics_rate, assets=str(library),
                     seed=int(rng.integers(2 ** 31)))
    story = {"family": "humoto", "negative": False, "sequence": seq.name, "script": seq.text,
             "modes": modes, "mode_source": {n: "config" if n in configured else "automatic" for n in names},
             "body": body_model, "resample": resample, "still": still,
             "source_frames": [float(x) for x in seq.source_frames]}
    return HumanScene(spec=spec, factual=factual, modes=modes, story=story)
