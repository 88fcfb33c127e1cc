"""``chain``: a row of dominoes. Remove the ball that starts the chain, and none falls; remove a
domino in the middle, and the ones after it stay standing."""
from __future__ import annotations

import math

import numpy as np

from datagen.core.rotations import yaw
from datagen.scene.geometry import geometry
from datagen.scene.random_scene import material
from datagen.scene.spec import ObjectSpec
from datagen.void.families.common import FamilyScene, settle, stage


def sample(rng: np.random.Generator, source, render, frames: int, fps: int, count=(4, 7)) -> FamilyScene:
    n = int(rng.integers(count[0], count[1] + 1))
    g = geometry(source, "domino")  # thin along X, wide along Y, tall along Z
    scale = float(rng.uniform(1.0, 1.2))
    spacing = float(g.size[2]) * scale * rng.uniform(0.45, 0.6)
    heading = float(rng.uniform(0, 2 * math.pi))
    ux, uy = math.cos(heading), math.sin(heading)
    start = -spacing * (n - 1) / 2
    preset = str(rng.choice(("wood", "plastic")))
    objects, roles = [], {}
    for i in range(n):
        d = start + i * spacing
        name = f"domino_{i}"
        objects.append(ObjectSpec(name, "domino", material(rng, preset), scale,
                                  position=(d * ux, d * uy, g.rest_z(scale) + 0.001), quaternion=yaw(heading)))
        roles[name] = "kept"
    # the pusher: a ball rolling into the first domino along the row
    bg, b_scale = geometry(source, "ball"), float(rng.uniform(1.0, 1.3))
    speed = float(rng.uniform(1.5, 3.0))
    back = start - max(0.2, min(0.6, speed * frames / fps / 4))  # first touch early in the clip
    pusher = ObjectSpec("pusher", "ball", material(rng, "rubber"), b_scale,
                        position=(back * ux, back * uy, bg.rest_z(b_scale) + 0.02),
                        velocity=(speed * ux, speed * uy, 0.0))
    objects.insert(0, pusher)
    roles["pusher"] = "kept"
    variant = str(rng.choice(("pusher", "middle")))
    if variant == "pusher":
        removed = "pusher"
    else:
        removed = f"domino_{int(rng.integers(1, n - 1))}"
    roles[removed] = "removed"
    spec = stage(rng, objects, render, frames, fps, source=source, look_at=(0.0, 0.0, 0.1))
    spec = settle(spec, [o.name for o in objects if o.name != "pusher"], source)
    return FamilyScene(spec, [removed], {"family": "chain", "variant": variant, "roles": roles,
                                         "expect": "the dominoes after the removed one stay standing"})
