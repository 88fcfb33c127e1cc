"""``launch``: VOID's Kubric recipe. A resting target; one or two objects thrown at it that will be
removed; the others thrown so that they miss it. Without the thrown objects the target stays put."""
from __future__ import annotations

import math

import numpy as np

from datagen.core.rotations import yaw
from datagen.scene.geometry import geometry
from datagen.scene.random_scene import material, pick_asset
from datagen.scene.spec import ObjectSpec
from datagen.void.families.common import SMALL, FamilyScene, free_spot, settle, stage

TARGETS = ("cube", "box", "cylinder", "bottle", "vase", "mug", "cone", "book")
PROJECTILES = ("sphere", "ball", "cube", "cylinder", "capsule", "torus", "mug", "bowl")


def sample(rng: np.random.Generator, source, render, frames: int, fps: int, num_objects=(3, 7),
           hit_speed=(3.0, 9.0), miss_speed=(3.0, 7.0)) -> FamilyScene:
    n = int(rng.integers(num_objects[0], num_objects[1] + 1))
    n_removed = 2 if n >= 4 else 1
    target_id = pick_asset(rng, source, TARGETS, "small")
    tg, t_scale = geometry(source, target_id), float(rng.uniform(1.1, 1.5))
    target = ObjectSpec("target", target_id, material(rng), t_scale,
                        position=(0.0, 0.0, tg.rest_z(t_scale) + 0.002),
                        quaternion=yaw(float(rng.uniform(0, 2 * math.pi))))
    objects, occupied = [target], [(0.0, 0.0, tg.radius(t_scale))]
    roles = {"target": "target"}
    for i in range(1, n):
        removed = i <= n_removed
        asset = pick_asset(rng, source, PROJECTILES if removed else SMALL, "small")
        g, scale = geometry(source, asset), float(rng.uniform(0.9, 1.2))
        speed = float(rng.uniform(*(hit_speed if removed else miss_speed)))
        # close enough to arrive within the first half of the clip, however short it is
        reach = max(0.45, min(1.5, 0.5 * speed * frames / fps))
        spot = free_spot(rng, occupied, g.radius(scale), ring=(0.6 * reach, reach), clearance=0.12)
        if spot is None:
            continue
        here = np.array(spot)
        if removed:  # aimed at the target's centre
            direction = -here / np.linalg.norm(here)
        else:  # aimed well to one side of it
            to_target = -here / np.linalg.norm(here)
            miss = math.asin(min(1.0, (tg.radius(t_scale) + g.radius(scale) + 0.35) / np.linalg.norm(here)))
            angle = (miss + rng.uniform(0.15, 0.6)) * rng.choice([-1, 1])
            c, s = math.cos(angle), math.sin(angle)
            direction = np.array([c * to_target[0] - s * to_target[1], s * to_target[0] + c * to_target[1]])
        name = f"{'thrown' if removed else 'other'}_{i}"
        roles[name] = "removed" if removed else "kept"
        objects.append(ObjectSpec(name, asset, material(rng), scale,
                                  position=(spot[0], spot[1], g.rest_z(scale) + 0.002),
                                  quaternion=yaw(float(rng.uniform(0, 2 * math.pi))),
                                  velocity=(float(direction[0] * speed), float(direction[1] * speed), 0.0)))
        occupied.append((spot[0], spot[1], g.radius(scale)))
    spec = stage(rng, objects, render, frames, fps, source=source, look_at=(0.0, 0.0, 0.15))
    spec = settle(spec, ["target"], source)
    removed = [o.name for o in objects if roles[o.name] == "removed"]
    return FamilyScene(spec, removed, {"family": "launch", "roles": roles,
                                       "expect": "the thrown objects hit the target; without them it stays put"})
