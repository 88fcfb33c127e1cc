"""Shared pieces of the VOID scene families: asset geometry, resting poses, settling, the stage.

A family samples a ``FamilyScene``: a spec whose objects start at rest where they should (settled
by a short simulation before frame 0), the names of the objects to remove, and the causal story in
plain data for the sample's metadata.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from datagen.core.rotations import yaw
from datagen.scene.geometry import geometry
from datagen.scene.random_scene import material, orbit_camera, pick_asset, sky_and_sun
from datagen.scene.spec import ObjectSpec, RenderSpec, SceneSpec

SMALL = ("cube", "sphere", "cylinder", "cone", "capsule", "mug", "bowl", "bottle", "vase", "book",
         "box", "ball", "torus", "plate")


@dataclass
class FamilyScene:
    spec: SceneSpec
    removed: list[str]
    story: dict = field(default_factory=dict)  # family, negative, roles, what should happen







def free_spot(rng, occupied: list[tuple[float, float, float]], radius: float, ring=(0.6, 1.6),
              clearance: float = 0.25, tries: int = 200) -> tuple[float, float] | None:
    """A floor point on a ring around the origin at least ``clearance`` from every occupied
    circle (x, y, r)."""
    for _ in range(tries):
        a, r = rng.uniform(0, 2 * math.pi), rng.uniform(*ring)
        x, y = r * math.cos(a), r * math.sin(a)
        if all(math.hypot(x - ox, y - oy) > radius + orad + clearance for ox, oy, orad in occupied):
            return x, y
    return None


def settle(spec: SceneSpec, names: list[str], source, seconds: float = 0.6) -> SceneSpec:
    """Let the named resting objects settle under gravity, and start the clip from there.

    Both worlds of a counterfactual start from these settled states, so nothing in frame 0 is
    still finding its rest; objects with an initial velocity are held out of the settling.
    """
    from datagen.scene.simulate import simulate

    frames = max(2, int(round(seconds * spec.fps)))
    resting = dataclasses.replace(spec, frames=frames, objects=[
        dataclasses.replace(o, velocity=(0.0, 0.0, 0.0), angular_velocity=(0.0, 0.0, 0.0))
        for o in spec.objects if o.name in names])
    states = simulate(resting, source=source)
    settled = {n: (tuple(states.positions[-1, i].tolist()), tuple(states.quaternions[-1, i].tolist()))
               for i, n in enumerate(states.names)}
    objects = [dataclasses.replace(o, position=settled[o.name][0], quaternion=settled[o.name][1])
               if o.name in settled else o for o in spec.objects]
    return dataclasses.replace(spec, objects=objects)


def stage(rng: np.random.Generator, objects: list[ObjectSpec], render: RenderSpec, frames: int,
          fps: int, look_at=None, distance=None, seed: int = 0, source=None) -> SceneSpec:
    """Floor, sky or HDRI, sun and a camera framing the objects."""
    env, sun = sky_and_sun(rng, source)
    xy = np.array([o.position[:2] for o in objects]) if objects else np.zeros((1, 2))
    centre = xy.mean(axis=0)
    spread = float(np.max(np.linalg.norm(xy - centre, axis=1))) if len(xy) else 0.0
    look = look_at if look_at is not None else (float(centre[0]), float(centre[1]), 0.15)
    d = distance or (max(1.6, 1.4 * spread + 1.2), max(2.0, 1.6 * spread + 1.6))
    camera = orbit_camera(rng, distance=d, height=(0.9, 1.9), look_at=look)
    return SceneSpec(objects=objects, camera=camera, lights=[sun], environment=env, render=render,
                     frames=frames, fps=fps, seed=seed)


def bystander(rng, source, spec: SceneSpec, name: str) -> ObjectSpec | None:
    """An object placed where it touches nothing, resting or sliding away from the scene: the
    removed object of a negative pair."""
    occupied = [(o.position[0], o.position[1], geometry(source, o.asset_id).radius(o.scale) + 0.15)
                for o in spec.objects]
    asset = pick_asset(rng, source, SMALL, "small")
    g = geometry(source, asset)
    scale = float(rng.uniform(0.9, 1.2))
    spot = free_spot(rng, occupied, g.radius(scale), ring=(0.9, 1.8), clearance=0.5)
    if spot is None:
        return None
    velocity = (0.0, 0.0, 0.0)
    if rng.random() < 0.5:  # slide gently outwards, away from everything
        out = np.array(spot) / max(np.linalg.norm(spot), 1e-6)
        velocity = tuple(float(v) for v in (*(out * rng.uniform(0.3, 0.8)), 0.0))
    return ObjectSpec(name=name, asset_id=asset, material=material(rng), scale=scale,
                      position=(spot[0], spot[1], g.rest_z(scale) + 0.002),
                      quaternion=yaw(float(rng.uniform(0, 2 * math.pi))), velocity=velocity)
