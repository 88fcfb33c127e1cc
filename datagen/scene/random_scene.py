"""A random physics scene: a few objects dropped and tossed onto a textured floor under a sky.

The foundation's demo scene, and a small example of how scene samplers build a ``SceneSpec`` from
a seed: every random choice comes from one ``numpy.random.Generator`` seeded by the caller.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from datagen.assets.source import SceneLibrary
from datagen.core.rotations import random_quaternion
from datagen.core.seeds import weighted_choice
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
# HDRI exposure: the map's mean radiance (sun included) is scaled to this, so every map lights alike
HDRI_EXPOSURE = 0.75


def material(rng: np.random.Generator, preset: str | None = None) -> MaterialSpec:
    """A random preset (glass excepted: it makes masks of things seen through it ambiguous)."""
    k = int(rng.integers(len(PALETTE)))
    return MaterialSpec(preset=preset or str(rng.choice(MATERIAL_PRESETS[:5])), color=PALETTE[k])


# -- the scene library's pools (datagen.assets.library): real objects, HDRIs, surfaces ----------------
def _mix(source, key: str) -> dict[str, float]:
    """The weights a generator set on its library (``assets.<key>``); {} for a plain asset source."""
    library = SceneLibrary.of(source)
    return library.weights(key) if library is not None else {}


def library_ids(source, kind: str, role: str | None = None) -> list[str]:
    """Sorted ids of ``kind`` (object | hdri | surface) in ``source`` that are not procedural (and, for
    objects, can play ``role``: small | large | tall | round | any)."""
    library = SceneLibrary.of(source)
    return library.ids(kind, role) if library is not None else []


def pick_asset(rng: np.random.Generator, source, pool, role: str = "small") -> str:
    """An asset for a part in a scene: one of the procedural ``pool`` or a real object of ``role``, by
    the library's ``objects`` weights (real | procedural). Without real candidates (or weight) this is
    exactly ``rng.choice(pool)``, so a procedural-only library samples what it always did."""
    real = library_ids(source, "object", role)
    mix = _mix(source, "objects")
    if not real or mix.get("real", 0) <= 0:
        return str(rng.choice(pool))
    if mix.get("procedural", 0) > 0 and weighted_choice(rng, mix) == "procedural":
        return str(rng.choice(pool))
    return str(rng.choice(real))


def keep_asset_looks(spec: SceneSpec, source, carriers=()) -> SceneSpec:
    """A spec drawn from a scene library: it names the library (``assets``, unless it names one
    already) and, unless the library's ``materials`` is ``random``, its real assets that bring their
    own materials keep them (material preset ``asset``): our built libraries say so
    (``keep_materials``), any other archive does when its OBJ brings an MTL with a texture. ``carriers``
    (names) keep the material the scene gave them: it carries an effect (glass, a glow, polished metal)."""

    if source is None:
        return spec
    library = SceneLibrary.of(source)
    if spec.assets is None and library.manifest_path:
        spec = dataclasses.replace(spec, assets=library.manifest_path)
    keep = library.materials != "random"
    objects = []
    for o in spec.objects:
        md = library.metadata(o.asset_id)
        if keep and o.name not in carriers and o.material.preset != "asset" and (md.get("keep_materials")
                                                      or library.brings_textures(o.asset_id)):
            o = dataclasses.replace(o, material=MaterialSpec(preset="asset", color=o.material.color))
        objects.append(o)
    return dataclasses.replace(spec, objects=objects)


def linear_to_srgb(c) -> tuple[float, float, float]:
    c = np.clip(np.asarray(c, np.float64), 0.0, 1.0)
    return tuple(float(v) for v in np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1 / 2.4) - 0.055))


def hdri_and_sun(rng: np.random.Generator, source, env: EnvironmentSpec) -> tuple[EnvironmentSpec, LightSpec]:
    """An HDRI of the library at a random rotation and exposure, and the sun lamp that replaces the sun
    taken out of its lighting map: same direction (turned with the map), irradiance and size, so
    shadows agree with what the backdrop shows (a sun below the horizon gives a dark lamp just above
    it). ``sun_elevation``/``sun_rotation`` then describe that sun, as they do the procedural sky's."""
    from datagen.core.rotations import rotate_z

    hdri = str(rng.choice(library_ids(source, "hdri")))
    md = SceneLibrary.of(source).metadata(hdri)
    rotation = float(rng.uniform(0, 2 * math.pi))
    strength = float(rng.uniform(0.8, 1.2)) * HDRI_EXPOSURE / max(float(md["sun"]["mean_radiance"]), 0.02)
    sun = md["sun"]
    direction = rotate_z(np.asarray(sun["direction"], float), -rotation)
    rgb = np.asarray(sun["irradiance_rgb"], float) * strength
    lit = direction[2] >= 0.02 and rgb.max() > 0
    elevation = max(float(math.asin(np.clip(direction[2], -1, 1))), 0.05)
    azimuth = math.atan2(direction[0], -direction[1])  # as the sky's sun_rotation
    env = dataclasses.replace(env, background="hdri", hdri=hdri, hdri_rotation=rotation, strength=strength,
                              sun_elevation=elevation, sun_rotation=azimuth)
    toward = np.array([math.cos(elevation) * math.sin(azimuth), -math.cos(elevation) * math.cos(azimuth),
                       math.sin(elevation)])
    colour = linear_to_srgb(rgb / rgb.max()) if rgb.max() > 0 else (1.0, 1.0, 1.0)
    return env, LightSpec(kind="sun", position=tuple((toward * 10).tolist()), look_at=(0.0, 0.0, 0.0), color=colour,
                          intensity=float(rgb @ (0.2126, 0.7152, 0.0722)) if lit else 0.0,
                          size=float(sun["angle_degrees"]))


def sky_and_sun(rng: np.random.Generator, source=None) -> tuple[EnvironmentSpec, LightSpec]:
    """The environment and its key light: a procedural sky with the sun lamp where the sky's sun is, or,
    by the library's ``environments`` weights (hdri | sky), an HDRI with its sun; a floor, procedural or,
    by the ``floors`` weights (photo | procedural), a photographic surface. The sky's draws come first
    and are the same either way, so a library without HDRIs or surfaces samples what it always did."""
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
    environments = _mix(source, "environments")
    if library_ids(source, "hdri") and environments.get("hdri", 0) > 0 and weighted_choice(rng, environments) == "hdri":
        env, sun = hdri_and_sun(rng, source, env)
    floors = _mix(source, "floors")
    surfaces = library_ids(source, "surface")
    if surfaces and floors.get("photo", 0) > 0 and weighted_choice(rng, floors) == "photo":
        surface = str(rng.choice(surfaces))
        size = float(SceneLibrary.of(source).metadata(surface).get("size_m", 2.0))
        env = dataclasses.replace(env, floor="photo", floor_texture=surface,
                                  floor_scale=size * float(rng.uniform(0.8, 1.25)))
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
                         render: RenderSpec | None = None, frames: int = 49, fps: int = 16,
                         source=None) -> SceneSpec:
    """``source``: a scene library (``datagen.assets.library.open_scene_library``) to draw real objects, HDRIs
    and surfaces from by its weights; the spec then names it (``assets``)."""
    rng = np.random.default_rng(seed)
    pool = [a for a in TOSSABLE if asset_ids is None or a in asset_ids] or sorted(asset_ids)
    env, sun = sky_and_sun(rng, source)
    objects = []
    for i in range(int(rng.integers(num_objects[0], num_objects[1] + 1))):
        asset = pick_asset(rng, source, pool)
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
    spec = SceneSpec(objects=objects, camera=camera, lights=[sun], environment=env,
                     render=render or RenderSpec(), frames=frames, fps=fps, seed=seed)
    return keep_asset_looks(spec, source)
