"""``blocker``: something rolls or slides into an obstacle and stops. Remove the obstacle, and it
travels further."""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from datagen.core.rotations import yaw
from datagen.scene.geometry import geometry
from datagen.scene.random_scene import material, pick_asset
from datagen.scene.spec import ObjectSpec
from datagen.void.families.common import FamilyScene, bystander, settle, stage

MOVERS = ("ball", "sphere", "cylinder", "cube", "box")
OBSTACLES = ("box", "chair", "cube", "book", "vase", "shelf")


def sample(rng: np.random.Generator, source, render, frames: int, fps: int, extra=(1, 3)) -> FamilyScene:
    heading = float(rng.uniform(0, 2 * math.pi))
    ux, uy = math.cos(heading), math.sin(heading)
    obstacle_id = pick_asset(rng, source, OBSTACLES, "tall")
    og, o_scale = geometry(source, obstacle_id), float(rng.uniform(1.0, 1.3))
    mover_id = str(rng.choice(MOVERS))
    mg, m_scale = geometry(source, mover_id), float(rng.uniform(0.9, 1.2))
    speed = float(rng.uniform(1.5, 3.0))
    # reach the obstacle within the first third of the clip, however short the clip is
    gap = float(rng.uniform(0.6, 1.0)) * min(0.9, speed * frames / fps / 3)
    start = -(gap + mg.radius(m_scale) + og.radius(o_scale))  # surfaces `gap` apart
    objects = [
        ObjectSpec("obstacle", obstacle_id, material(rng), o_scale,
                   position=(0.0, 0.0, og.rest_z(o_scale) + 0.001), quaternion=yaw(heading)),
        ObjectSpec("mover", mover_id, material(rng), m_scale,
                   position=(start * ux, start * uy, mg.rest_z(m_scale) + 0.002), quaternion=yaw(heading),
                   velocity=(speed * ux, speed * uy, 0.0)),
    ]
    roles = {"obstacle": "removed", "mover": "kept"}
    spec = stage(rng, objects, render, frames, fps, source=source, look_at=(start * ux / 2, start * uy / 2, 0.15))
    for k in range(int(rng.integers(extra[0], extra[1] + 1))):
        other = bystander(rng, source, spec, f"other_{k}")
        if other is not None and abs((other.position[0] * -uy) + (other.position[1] * ux)) > 0.5:
            spec.objects.append(dataclasses.replace(other, velocity=(0.0, 0.0, 0.0)))
            roles[other.name] = "kept"
    spec = settle(spec, [o.name for o in spec.objects if o.name != "mover"], source)
    return FamilyScene(spec, ["obstacle"], {"family": "blocker", "roles": roles,
                                            "expect": "the mover travels further without the obstacle"})
