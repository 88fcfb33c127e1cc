"""A random physics scene: a few objects dropped and tossed onto a textured floor under a sky.

The foundation's demo scene, and a small example of how scene samplers build a ``SceneSpec`` from
a seed: every random choice comes from one ``numpy.random.Generator`` seeded by the caller.
"""
from __future__ import annotations

import math

import numpy as np

from datagen.core.rotations import random_quaternion
from datagen.scene.spec import (MATERIAL_PRESETS, PARAMETRIC_MOTIONS, CameraSpec, EnvironmentSpec,
                                LightSpec, MaterialSpec, ObjectSpec, RenderSpec, SceneSpec)

# Objects that tumble well; furniture stays out of the demo.
TOSSABLE = ("cube", "sphere", "cylinder", "cone", "torus", "capsule", "mug", "bowl", "bottle",
            "vase", "book", "box", "ball", "domino", "plate")
FLOORS = {  # texture -> two sRGB colours
    "checker": ((0.78, 0.78, 0.75), (0.3, 0.31, 0.33)),
    "tiles": ((0.86, 0.82, 0.74), (0.45, 0.42, 0.4)),
    "wood": ((0.58, 0.38, 0.2), (0.45, 0.27, 0.13)),
    "concrete": ((0.62, 0.62, 0.6), (0.42, 0.42, 0.41)),
    "marble": ((0.93, 0.92, 0.9), (0.68, 0.68, 0.7)),
}
PALETTE = ((0.85, 0.2, 0.15), (0.15, 0.45, 0.85), (0.95, 0.75, 0.1), (0.2, 0.65, 0.3),
           (0.9, 0.5, 0.1), (0.55, 0.3, 0.7), (0.9, 0.9, 0.88), (0.15, 0.15, 0.17))





def material(rng: np.random.Generator, preset: str | None = None) -> MaterialSpec:
    """A random preset (glass excepted: it makes masks of things seen through it ambiguous)."""
    k = int(rng.integers(len(PALETTE)))
    return MaterialSpec(preset=preset or str(rng.choice(MATERIAL_PRESETS[:5])), color=PALETTE[k])

def sky_and_sun(rng: np.random.Generator) -> tuple[EnvironmentSpec, LightSpec]:
    """A sky with the sun lamp placed where the sky's sun is, so light and backdrop agree."""
    elevation = float(rng.uniform(math.radians(25), math.radians(65)))
    rotation = float(rng.uniform(0, 2 * math.pi))
    floor = str(rng.choice(sorted(FLOORS)))
    env = EnvironmentSpec(background="sky", sun_elevation=elevation, sun_rotation=rotation,
                          strength=float(rng.uniform(0.8, 1.2)), floor=floor, floor_colors=FLOORS[floor],
                          floor_scale=float(rng.uniform(0.7, 1.5)))
    toward_sun = np.array([math.cos(elevation) * math.sin(rotation),
                           -math.cos(elevation) * math.cos(rotation), math.sin(elevation)])
    sun = LightSpec(kind="sun", position=tuple((toward_sun * 10).tolist()), look_at=(0, 0, 0),
                    intensity=float(rng.uniform(2.5, 4.0)), size=float(rng.uniform(1.0, 4.0)))
    return env, sun


def orbit_camera(rng: np.random.Generator, distance=(3.0, 4.5), height=(1.2, 2.5),
                 look_at=(0.0, 0.0, 0.15), motion: str | None = None) -> CameraSpec:
    """A camera on a ring around ``look_at`` with a random motion and a modest amount of it."""
    azimuth = float(rng.uniform(0, 2 * math.pi))
    r, h = float(rng.uniform(*distance)), float(rng.uniform(*height))
    motion = motion or str(rng.choice(PARAMETRIC_MOTIONS))
    amount = {"static": 0.0, "dolly": float(rng.uniform(0.1, 0.3)), "zoom": float(rng.uniform(0.2, 0.5)),
              "pan": float(rng.uniform(-0.25, 0.25)), "orbit": float(rng.uniform(-0.6, 0.6))}[motion]
    return CameraSpec(position=(r * math.cos(azimuth), r * math.sin(azimuth), h), look_at=look_at,
                      focal_length=float(rng.uniform(30, 42)), motion=motion, amount=amount)


def random_physics_scene(seed: int, asset_ids=None, num_objects: tuple[int, int] = (4, 7),
                         render: RenderSpec | None = None, frames: int = 49, fps: int = 16) -> SceneSpec:
    rng = np.random.default_rng(seed)
    pool = [a for a in TOSSABLE if asset_ids is None or a in asset_ids] or sorted(asset_ids)
    env, sun = sky_and_sun(rng)
    objects = []
    for i in range(int(rng.integers(num_objects[0], num_objects[1] + 1))):
        asset = str(rng.choice(pool))
        angle = 2 * math.pi * i / num_objects[1] + rng.uniform(-0.3, 0.3)
        radius = rng.uniform(0.2, 0.7)
        position = (radius * math.cos(angle), radius * math.sin(angle), 0.3 + 0.35 * i)
        objects.append(ObjectSpec(
            name=f"{asset}_{i}", asset_id=asset,
            material=MaterialSpec(preset=str(rng.choice(MATERIAL_PRESETS[:5])),
                                  color=PALETTE[int(rng.integers(len(PALETTE)))]),
            scale=float(rng.uniform(0.9, 1.3)), position=position,
            quaternion=random_quaternion(rng),
            velocity=tuple(float(v) for v in (rng.uniform(-0.8, 0.8), rng.uniform(-0.8, 0.8), 0.0)),
            angular_velocity=tuple(float(v) for v in rng.uniform(-3, 3, size=3))))
    camera = orbit_camera(rng, distance=(2.0, 2.8), height=(0.9, 1.6))
    return SceneSpec(objects=objects, camera=camera, lights=[sun], environment=env,
                     render=render or RenderSpec(), frames=frames, fps=fps, seed=seed)
