"""Turn a ``SceneSpec`` into a Kubric scene: the one place spec fields become Kubric assets.

Both the simulator and the renderer build their own Kubric scene from the same spec, so a physics
worker never imports Blender and a render pass never re-simulates.
"""
from __future__ import annotations

import math

from dataclasses import dataclass, field

import numpy as np

from datagen.assets import create_asset, open_asset_source
from datagen.kubric_compat import kb
from datagen.scene.spec import SceneSpec

FLOOR_THICKNESS = 0.1
WALL_THICKNESS = 0.1
WALL_HEIGHT = 4.0


def srgb_to_linear(c) -> np.ndarray:
    c = np.asarray(c, dtype=np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


@dataclass
class KubricScene:
    """A Kubric scene with handles by spec name; ``environment`` holds floor and walls."""
    scene: "kb.Scene"
    objects: dict[str, "kb.PhysicalObject"] = field(default_factory=dict)
    environment: dict[str, "kb.PhysicalObject"] = field(default_factory=dict)
    source: "kb.AssetSource | None" = None

    def name_of(self, asset) -> str | None:
        for table in (self.objects, self.environment):
            for name, obj in table.items():
                if obj is asset:
                    return name
        return None


def asset_source(spec: SceneSpec) -> "kb.AssetSource":
    return open_asset_source(spec.assets)  # the default library builds on first use


def build_kubric_scene(spec: SceneSpec, source=None, exclude=()) -> KubricScene:
    """Kubric scene with every spec object except ``exclude`` (names), plus floor and walls.

    Segmentation ids: object ``i`` of the spec is ``i + 1`` (whatever is excluded); the floor and
    walls are 0, i.e. background.
    """
    unknown = set(exclude) - {o.name for o in spec.objects}
    if unknown:
        raise KeyError(f"exclude names objects not in the scene: {sorted(unknown)}")
    source = source if source is not None else asset_source(spec)
    scene = kb.Scene(resolution=(spec.render.width, spec.render.height), frame_start=1,
                     frame_end=spec.frames, frame_rate=spec.fps, step_rate=spec.physics_rate,
                     gravity=tuple(spec.gravity))
    out = KubricScene(scene=scene, source=source)
    env = spec.environment
    if env.floor is not None:
        half = env.floor_size / 2
        out.environment["floor"] = kb.Cube(
            name="floor", scale=(half, half, FLOOR_THICKNESS / 2),
            position=(0, 0, -FLOOR_THICKNESS / 2), static=True, segmentation_id=0,
            friction=env.floor_friction, restitution=env.floor_restitution)
    d, half_h = env.wall_distance, WALL_HEIGHT / 2
    walls = [("wall_back", (env.floor_size / 2, WALL_THICKNESS / 2, half_h), (0, d)),
             ("wall_side", (WALL_THICKNESS / 2, env.floor_size / 2, half_h), (-d, 0))]
    c, s = math.cos(env.wall_rotation), math.sin(env.wall_rotation)
    turn = (math.cos(env.wall_rotation / 2), 0.0, 0.0, math.sin(env.wall_rotation / 2))
    for name, scale, (x, y) in walls[: env.walls]:
        position = (env.wall_center[0] + c * x - s * y, env.wall_center[1] + s * x + c * y, half_h)
        out.environment[name] = kb.Cube(name=name, scale=scale, position=position, quaternion=turn, static=True,
                                        segmentation_id=0, friction=0.5, restitution=0.3)
    for i, o in enumerate(spec.objects):
        if o.name in exclude:
            continue
        obj = create_asset(source, o.asset_id, name=o.name)
        mass = o.mass if o.mass is not None else obj.mass * o.scale ** 3
        obj.scale = (o.scale,) * 3
        obj.position = tuple(o.position)
        obj.quaternion = tuple(o.quaternion)
        obj.velocity = tuple(o.velocity)
        obj.angular_velocity = tuple(o.angular_velocity)
        obj.static = o.static
        obj.mass = mass
        if o.friction is not None:
            obj.friction = o.friction
        if o.restitution is not None:
            obj.restitution = o.restitution
        obj.segmentation_id = i + 1
        out.objects[o.name] = obj
    for asset in [*out.environment.values(), *out.objects.values()]:
        scene.add(asset)
    return out
