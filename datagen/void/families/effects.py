"""``effects``: the ``launch`` interaction (objects thrown at a resting target, removed) staged around one
carrier of side effects at a time, so that removing the thrown objects also removes what they do to the
light. ``effect_category`` names the carrier (ROSE-Bench's and EffectErase's kinds):

  shadow        a low sun behind the camera and a wall behind the objects: long shadows on floor and wall
  reflection    a polished or wet floor (marble, roughness 0-0.05) and metal or glazed kept objects
  mirror        the back wall is a mirror facing the camera: the thrown objects are seen in it
  translucency  the thrown objects are glass (the floor is refracted through them), sometimes seen through
                a kept glass vessel standing between them and the camera
  light         the thrown objects glow in a dusk scene: removing them changes the light on everything near

The per-pixel effect categories of every pair (any family) come from ray visibility (void/categories.py).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from datagen.core.rotations import yaw
from datagen.scene.geometry import geometry
from datagen.scene.random_scene import pick_asset
from datagen.scene.spec import EnvironmentSpec, LightSpec, MaterialSpec, ObjectSpec
from datagen.void.families import launch
from datagen.void.families.common import FamilyScene

CATEGORIES = ("shadow", "reflection", "mirror", "translucency", "light")
VESSELS = ("vase", "bottle", "cylinder", "mug", "bowl")
GLOWS = ((1.0, 0.75, 0.4), (1.0, 0.9, 0.7), (0.6, 0.8, 1.0), (1.0, 0.5, 0.3), (0.7, 1.0, 0.6))


def _camera_azimuth(spec) -> float:
    """Direction (radians about Z) from what the camera looks at to the camera."""
    (cx, cy, _), (lx, ly, _) = spec.camera.position, spec.camera.look_at
    return math.atan2(cy - ly, cx - lx)


def _back_wall(spec, source, finish: str, margin: float = 0.6) -> EnvironmentSpec:
    """One wall behind the objects as the camera sees them, facing it, just beyond the farthest object."""
    a = _camera_azimuth(spec)
    lx, ly = spec.camera.look_at[:2]
    away = np.array([-math.cos(a), -math.sin(a)])
    reach = max([float(np.dot(np.array(o.position[:2]) - (lx, ly), away)) + geometry(source, o.asset_id).radius(o.scale)
                 for o in spec.objects] + [0.0])
    # the back wall sits at wall_center + R(rotation) (0, d): R (0, 1) = away when rotation = a + pi/2
    return dataclasses.replace(spec.environment, walls=1, wall_finish=finish, wall_center=(float(lx), float(ly)),
                               wall_distance=reach + margin, wall_rotation=a + math.pi / 2)


def _low_sun(rng, spec, elevation=(8.0, 20.0), strength=(0.8, 1.1)) -> tuple[EnvironmentSpec, LightSpec]:
    """A procedural sky with its sun low and on the camera's side (within 70 degrees), so shadows run long
    and away from the camera, towards the back wall."""
    e = math.radians(float(rng.uniform(*elevation)))
    toward = _camera_azimuth(spec) + math.radians(float(rng.uniform(-70, 70)))
    rotation = toward + math.pi / 2  # sky convention: toward_sun = (cos e sin r, -cos e cos r, sin e)
    env = dataclasses.replace(spec.environment, background="sky", hdri=None, hdri_path=None, sun_elevation=e,
                              sun_rotation=rotation, strength=float(rng.uniform(*strength)))
    if env.floor == "photo":
        env = dataclasses.replace(env, floor="concrete", floor_texture=None, floor_colors=((0.7, 0.7, 0.68), (0.5, 0.5, 0.5)))
    direction = np.array([math.cos(e) * math.sin(rotation), -math.cos(e) * math.cos(rotation), math.sin(e)])
    sun = LightSpec(kind="sun", position=tuple((direction * 10).tolist()), look_at=(0.0, 0.0, 0.0),
                    intensity=float(rng.uniform(3.0, 4.5)), size=float(rng.uniform(0.5, 1.5)))
    return env, sun


def _restyle(objects, names, material_of) -> list[ObjectSpec]:
    return [dataclasses.replace(o, material=material_of(o)) if o.name in names else o for o in objects]


def sample(rng: np.random.Generator, source, render, frames: int, fps: int, category: str | None = None) -> FamilyScene:
    if category is not None and category not in CATEGORIES:
        raise ValueError(f"void.effects.category={category!r}; choose from {CATEGORIES} or null")
    category = category or str(rng.choice(CATEGORIES))
    scene = launch.sample(rng, source, render, frames, fps)
    spec, removed = scene.spec, list(scene.removed)
    kept = [o.name for o in spec.objects if o.name not in removed]
    if category == "shadow":
        env, sun = _low_sun(rng, spec)
        spec = dataclasses.replace(spec, environment=env, lights=[sun])
        spec = dataclasses.replace(spec, environment=_back_wall(spec, source, "paint"))
    elif category == "reflection":
        env = dataclasses.replace(spec.environment, floor="marble", floor_texture=None,
                                  floor_colors=((0.85, 0.84, 0.8), (0.3, 0.3, 0.32)),
                                  floor_roughness=float(rng.uniform(0.0, 0.05)))  # polished or wet
        objects = _restyle(spec.objects, kept, lambda o: dataclasses.replace(
            o.material, preset=str(rng.choice(["metal", "metal", "ceramic"])), roughness=float(rng.uniform(0.05, 0.2))))
        spec = dataclasses.replace(spec, environment=env, objects=objects)
    elif category == "mirror":
        camera = spec.camera if spec.camera.motion != "orbit" else dataclasses.replace(spec.camera, motion="static", amount=0.0)
        spec = dataclasses.replace(spec, camera=camera)
        spec = dataclasses.replace(spec, environment=_back_wall(spec, source, "mirror"))
    elif category == "translucency":
        objects = _restyle(spec.objects, removed, lambda o: MaterialSpec("glass", (0.95, 0.97, 1.0)))
        if rng.random() < 0.5:  # a kept glass vessel between the target and the camera
            a = _camera_azimuth(spec)
            asset = pick_asset(rng, source, VESSELS, "small")
            g, scale = geometry(source, asset), float(rng.uniform(1.0, 1.4))
            d = geometry(source, spec.objects[0].asset_id).radius(spec.objects[0].scale) + g.radius(scale) + 0.12
            spot = (d * math.cos(a), d * math.sin(a))
            clear = all(math.hypot(spot[0] - o.position[0], spot[1] - o.position[1]) >
                        geometry(source, o.asset_id).radius(o.scale) + g.radius(scale) + 0.1 for o in spec.objects)
            if clear:
                objects.append(ObjectSpec("vessel", asset, MaterialSpec("glass", (0.9, 0.95, 1.0)), scale,
                                          position=(spot[0], spot[1], g.rest_z(scale) + 0.002),
                                          quaternion=yaw(float(rng.uniform(0, 2 * math.pi))), static=True))
                scene.story["roles"]["vessel"] = "kept"
        spec = dataclasses.replace(spec, objects=objects)
    else:  # light
        env, sun = _low_sun(rng, spec, elevation=(3.0, 8.0), strength=(0.04, 0.1))
        sun = dataclasses.replace(sun, intensity=float(rng.uniform(0.15, 0.4)))
        objects = _restyle(spec.objects, removed, lambda o: MaterialSpec(
            "plastic", GLOWS[int(rng.integers(len(GLOWS)))], emission=float(rng.uniform(6.0, 14.0))))
        spec = dataclasses.replace(spec, environment=env, lights=[sun], objects=objects)
    # the objects whose material carries the effect keep it over a real asset's own look
    carriers = {"reflection": kept, "translucency": [*removed, "vessel"], "light": removed}.get(category, [])
    carriers = [o.name for o in spec.objects if o.name in carriers]
    story = {**scene.story, "family": "effects", "effect_category": category, "carriers": carriers,
             "expect": scene.story["expect"] + f"; removing them also removes their {category} effects"}
    return FamilyScene(spec, removed, story)
