"""``support``: remove what other objects rest on — a table under dishes, a box or book under a
ball or mug, the bottom of a stack. Without it, what it held falls."""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from datagen.core.rotations import yaw
from datagen.scene.geometry import geometry
from datagen.scene.random_scene import material, pick_asset
from datagen.scene.spec import ObjectSpec
from datagen.void.families.common import FamilyScene, bystander, settle, stage

VARIANTS = ("table", "box", "stack")
ON_TABLE = ("mug", "bowl", "plate", "bottle", "vase", "book", "ball", "cube")
ON_BOX = ("ball", "mug", "sphere", "cube", "bowl", "cylinder")
STACKABLE = ("book", "box", "cube")


def sample(rng: np.random.Generator, source, render, frames: int, fps: int, extra=(0, 2)) -> FamilyScene:
    variant = str(rng.choice(VARIANTS))
    turn = float(rng.uniform(0, 2 * math.pi))
    objects, roles = [], {}

    def place(name, asset, scale, surface, xy=(0.0, 0.0), preset=None, role="kept"):
        g = geometry(source, asset)
        objects.append(ObjectSpec(name, asset, material(rng, preset), scale,
                                  position=(float(xy[0]), float(xy[1]), g.rest_z(scale, surface) + 0.001),
                                  quaternion=yaw(turn + float(rng.uniform(-0.3, 0.3)))))
        roles[name] = role
        return g.top(objects[-1].position[2], scale)

    if variant == "table":
        top = place("support", "table", 1.0, 0.0, preset="wood", role="removed")
        tg = geometry(source, "table")
        half = tg.size[:2] / 2 - 0.1
        c, s = math.cos(turn), math.sin(turn)
        for i in range(int(rng.integers(1, 4))):
            u, v = rng.uniform(-half[0], half[0]), rng.uniform(-half[1], half[1])
            place(f"item_{i}", pick_asset(rng, source, ON_TABLE, "small"), float(rng.uniform(0.9, 1.1)), top,
                  xy=(c * u - s * v, s * u + c * v))
            if len(objects) > 2 and _overlaps(objects, source):
                objects.pop(), roles.pop(f"item_{i}")
    elif variant == "box":
        top = place("support", str(rng.choice(("box", "book", "cube"))), float(rng.uniform(1.0, 1.3)), 0.0,
                    role="removed")
        place("item_0", pick_asset(rng, source, ON_BOX, "small"), float(rng.uniform(0.8, 1.0)), top)
    else:  # a stack: remove the bottom
        surface, count = 0.0, int(rng.integers(2, 4))
        for i in range(count):
            surface = place("support" if i == 0 else f"item_{i - 1}", str(rng.choice(STACKABLE)),
                            float(rng.uniform(1.0, 1.2)) * (0.95 ** i), surface,
                            role="removed" if i == 0 else "kept")
    spec = stage(rng, objects, render, frames, fps, source=source,
                 look_at=(0.0, 0.0, 0.45 if variant == "table" else 0.15),
                 distance=(2.6, 3.4) if variant == "table" else None)
    for k in range(int(rng.integers(extra[0], extra[1] + 1))):
        extra_obj = bystander(rng, source, spec, f"other_{k}")
        if extra_obj is not None:
            spec.objects.append(dataclasses.replace(extra_obj, velocity=(0.0, 0.0, 0.0)))
            roles[extra_obj.name] = "kept"
    spec = settle(spec, [o.name for o in spec.objects], source)
    return FamilyScene(spec, ["support"], {"family": "support", "variant": variant, "roles": roles,
                                           "expect": "what rested on the support falls without it"})


def _overlaps(objects, source) -> bool:
    """Does the last placed object's footprint overlap an earlier item's (not the support's)?"""
    last = objects[-1]
    r = geometry(source, last.asset_id).radius(last.scale)
    for o in objects[1:-1]:
        if math.dist(o.position[:2], last.position[:2]) < r + geometry(source, o.asset_id).radius(o.scale):
            return True
    return False
