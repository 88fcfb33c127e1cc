"""The scene description: one plain, serialisable record that physics, every render pass and every
label are derived from.

Units and conventions (the same everywhere in counterfactory): metres, seconds, radians;
quaternions (w, x, y, z) as in Kubric; Z up; colours are sRGB in [0, 1] here and become linear
only at the Blender boundary; frames are numbered 0..frames-1 in arrays (Blender uses 1..frames).
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from datagen.core.rotations import rotate_z

Vec3 = tuple[float, float, float]
Quat = tuple[float, float, float, float]
Color = tuple[float, float, float]

MATERIAL_PRESETS = ("rubber", "metal", "plastic", "wood", "ceramic", "glass", "mirror", "asset")  # asset: keep its own
PARAMETRIC_MOTIONS = ("static", "dolly", "zoom", "pan", "orbit")  # need only ``amount``
CAMERA_MOTIONS = PARAMETRIC_MOTIONS + ("track",)  # track follows ``path``
WALL_FINISHES = ("paint", "mirror")
# garment finishes, no garment meshes (none ship): (roughness, sheen weight) of a body region's surface
FABRICS = {"plain": (0.7, 0.0), "cotton": (0.85, 0.3), "denim": (0.8, 0.15), "wool": (0.95, 0.6),
           "satin": (0.35, 0.5), "leather": (0.45, 0.0), "canvas": (0.9, 0.1)}
FLOOR_TEXTURES = ("plain", "checker", "tiles", "wood", "concrete", "marble", "mirror", "photo")
# what sees an object: everything, nothing, every ray but the camera's (shadow_only), or one kind of
# secondary ray alone (the ray_* modes split an object's effects by the light paths that carry them)
RAY_KINDS = ("shadow", "glossy", "transmission", "diffuse")
VISIBILITIES = ("visible", "hidden", "shadow_only", *(f"ray_{k}" for k in RAY_KINDS))


@dataclass
class MaterialSpec:
    preset: str = "plastic"
    color: Color = (0.8, 0.8, 0.8)
    roughness: float | None = None  # None: the preset's value
    texture_scale: float = 1.0  # size of procedural patterns (wood grain, speckle) relative to default
    emission: float = 0.0  # > 0: the surface glows in its own colour with this strength (a lamp, a glowing ball)

    def __post_init__(self):
        if self.preset not in MATERIAL_PRESETS:
            raise ValueError(f"unknown material preset {self.preset!r}; choose from {MATERIAL_PRESETS}")


@dataclass
class ObjectSpec:
    """One rigid object. ``name`` is unique in the scene; ids in segmentation are ``index + 1``."""
    name: str
    asset_id: str
    material: MaterialSpec = field(default_factory=MaterialSpec)
    scale: float = 1.0
    position: Vec3 = (0.0, 0.0, 0.0)
    quaternion: Quat = (1.0, 0.0, 0.0, 0.0)
    velocity: Vec3 = (0.0, 0.0, 0.0)
    angular_velocity: Vec3 = (0.0, 0.0, 0.0)
    static: bool = False
    mass: float | None = None  # None: the asset's mass, scaled with volume
    friction: float | None = None
    restitution: float | None = None
    smooth_angle: float = math.radians(35.0)  # edges sharper than this stay sharp when shaded


BODY_MODELS = ("anny", "smplx")


@dataclass
class BodySpec:
    """A person: a skinned mesh posed per frame from recorded motion, never simulated (objects it
    moves carry the recorded motion in the factual world). Segmentation ids follow the objects'."""
    name: str = "person"
    model: str = "anny"  # anny (HUMOTO Mixamo motion, retargeted) | smplx (AMASS-style SMPL-X motion)
    sequence: str = ""  # HUMOTO sequence folder (objects and, for anny, the motion)
    motion: str = ""  # anny: a procedural motion (``humans.fixtures.MOTIONS``) made on this body, instead of ``sequence``
    objects_dir: str | None = None  # HUMOTO object meshes; None: <root>/objects
    smplx_model: str | None = None  # SMPL-X model file or folder (model="smplx")
    smplx_motion: str | None = None  # AMASS-style npz (model="smplx")
    resample: str = "whole"  # whole: the recording spread over the clip; fps: real time from ``start``
    start: float = 0.0  # seconds
    phenotype: dict = field(default_factory=dict)  # anny: gender, age, muscle, weight, height, proportions
    skin_color: Color = (0.8, 0.6, 0.5)
    shirt_color: Color = (0.2, 0.3, 0.6)
    trousers_color: Color = (0.2, 0.2, 0.25)
    shoes_color: Color = (0.1, 0.1, 0.1)
    sleeves: bool = True
    # what each garment is made of (``FABRICS``: roughness and sheen); "plain" is a uniform matte finish
    shirt_fabric: str = "plain"
    trousers_fabric: str = "plain"
    shoes_fabric: str = "plain"

    def __post_init__(self):
        if self.model not in BODY_MODELS:
            raise ValueError(f"unknown body model {self.model!r}; choose from {BODY_MODELS}")
        for garment in ("shirt", "trousers", "shoes"):
            fabric = getattr(self, f"{garment}_fabric")
            if fabric not in FABRICS:
                raise ValueError(f"unknown {garment}_fabric {fabric!r}; choose from {sorted(FABRICS)}")


@dataclass
class CameraSpec:
    """A camera path: a start pose plus one parametric motion, replayed identically in every pass."""
    position: Vec3 = (0.0, -6.0, 3.0)
    look_at: Vec3 = (0.0, 0.0, 0.5)
    focal_length: float = 35.0  # mm
    sensor_width: float = 32.0  # mm
    motion: str = "static"
    amount: float = 0.0  # dolly: fraction of the distance moved in; zoom: focal gain; pan/orbit: radians
    path: tuple[Vec3, ...] = ()  # track: per-frame points followed; the camera keeps its offset to them

    def __post_init__(self):
        if self.motion not in CAMERA_MOTIONS:
            raise ValueError(f"unknown camera motion {self.motion!r}; choose from {CAMERA_MOTIONS}")

    def poses(self, frames: int) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """Per-frame (position, look_at, focal_length), eased so the motion starts and ends softly."""
        p0, t0 = np.asarray(self.position, float), np.asarray(self.look_at, float)
        out = []
        for i in range(frames):
            u = 0.0 if frames == 1 else i / (frames - 1)
            s = u * u * (3.0 - 2.0 * u) * self.amount
            pos, target, focal = p0.copy(), t0.copy(), self.focal_length
            if self.motion == "dolly":
                pos = p0 + (t0 - p0) * s
            elif self.motion == "zoom":
                focal = self.focal_length * (1.0 + s)
            elif self.motion == "pan":
                target = p0 + rotate_z(t0 - p0, s)
            elif self.motion == "orbit":
                pos = t0 + rotate_z(p0 - t0, s)
            elif self.motion == "track" and self.path:
                target = np.asarray(self.path[min(i, len(self.path) - 1)], float)
                pos = p0 + (target - t0)
            out.append((pos, target, focal))
        return out



@dataclass
class LightSpec:
    kind: Literal["sun", "area", "point", "spot"] = "sun"
    position: Vec3 = (3.0, -2.0, 6.0)
    look_at: Vec3 = (0.0, 0.0, 0.0)
    color: Color = (1.0, 0.97, 0.92)
    intensity: float = 3.0  # W/m^2 for sun, W for the others
    size: float = 1.0  # area lights: edge length in metres; sun: angular diameter in degrees


@dataclass
class EnvironmentSpec:
    """Everything that is not an object: sky or HDRI, floor, walls."""
    background: Literal["sky", "hdri", "color"] = "sky"
    strength: float = 1.0
    sun_elevation: float = math.radians(45.0)  # sky only
    sun_rotation: float = math.radians(30.0)  # sky only
    hdri_path: str | None = None  # an image file (lights and backdrop), or:
    hdri: str | None = None  # an HDRI asset of the scene's library (its own backdrop and sun)
    hdri_rotation: float = 0.0  # radians about Z
    color: Color = (0.6, 0.7, 0.8)
    floor: str | None = "checker"  # a FLOOR_TEXTURES entry, or None for no floor
    floor_colors: tuple[Color, Color] = ((0.75, 0.75, 0.72), (0.35, 0.36, 0.38))
    floor_scale: float = 1.0
    floor_size: float = 30.0
    floor_texture: str | None = None  # floor="photo": a surface asset of the scene's library
    floor_roughness: float | None = None  # None: the floor texture's own; low values polish it (a wet floor)
    floor_shadow_catcher: bool = False  # the floor shows only the shadows on it (a transparent film keeps them in alpha)
    floor_friction: float = 0.6
    floor_restitution: float = 0.3
    walls: int = 0  # 0 none, 1 back wall, 2 back and side wall (a corner)
    wall_color: Color = (0.82, 0.8, 0.76)
    wall_finish: str = "paint"  # paint | mirror: the back wall is a mirror (the side wall stays painted)
    wall_distance: float = 3.0  # from wall_center to each wall's centre plane
    wall_center: tuple[float, float] = (0.0, 0.0)  # x, y the walls stand around
    wall_rotation: float = 0.0  # radians about Z: 0 puts the back wall at +Y and the side wall at -X

    def __post_init__(self):
        if self.floor is not None and self.floor not in FLOOR_TEXTURES:
            raise ValueError(f"unknown floor {self.floor!r}; choose from {FLOOR_TEXTURES}")
        if self.wall_finish not in WALL_FINISHES:
            raise ValueError(f"unknown wall_finish {self.wall_finish!r}; choose from {WALL_FINISHES}")
        if self.background == "hdri" and not (self.hdri_path or self.hdri):
            raise ValueError("background='hdri' needs hdri (an asset id) or hdri_path")
        if self.floor == "photo" and not self.floor_texture:
            raise ValueError("floor='photo' needs floor_texture (a surface asset id)")


def _base_render(key: str):
    from datagen.core.sections import yaml_section

    return yaml_section("base", "render")[key]


@dataclass
class RenderSpec:
    """How a spec is rendered. The settings a run's ``render`` section has default to base.yaml's values (one
    source); the others are the renderer's own."""
    width: int = field(default_factory=lambda: _base_render("width"))
    height: int = field(default_factory=lambda: _base_render("height"))
    spp: int = field(default_factory=lambda: _base_render("spp"))
    threads: int = 0  # 0: let Blender use every core (base.yaml's null); set it when several renders share a node
    seed: int = 0  # Cycles' sampling seed, the same in every pass
    denoise: bool = field(default_factory=lambda: _base_render("denoise"))  # OIDN on the full raw frame
    adaptive_threshold: float = field(default_factory=lambda: _base_render("adaptive_threshold"))  # 0: off
    adaptive_min_samples: int = field(default_factory=lambda: _base_render("adaptive_min_samples"))  # 0: Cycles'
    view_transform: str = "AgX"
    max_bounces: int = 6
    device: str = field(default_factory=lambda: _base_render("device"))  # cpu | cuda | optix (Cycles;
    # renders are reproducible per device, not across)
    gpus: tuple[int, ...] = ()  # which GPUs of that kind (indices); empty (base.yaml's null): all visible

    @classmethod
    def from_config(cls, render, seed: int) -> "RenderSpec":
        """A generator sample's render settings: the run's ``render`` section (size, samples, denoiser,
        adaptive sampling, the threads the runner reserved) and the sample's Cycles seed, the same in every
        pass."""
        return cls(width=render.width, height=render.height, spp=render.spp, threads=int(render.threads or 0),
                   seed=int(seed % (2 ** 31)), denoise=bool(render.denoise),
                   adaptive_threshold=float(render.adaptive_threshold),
                   adaptive_min_samples=int(render.adaptive_min_samples), device=str(render.get("device") or "cpu"),
                   gpus=tuple(int(g) for g in (render.get("gpus") or ())))


@dataclass
class SceneSpec:
    objects: list[ObjectSpec] = field(default_factory=list)
    bodies: list[BodySpec] = field(default_factory=list)
    camera: CameraSpec = field(default_factory=CameraSpec)
    lights: list[LightSpec] = field(default_factory=lambda: [LightSpec()])
    environment: EnvironmentSpec = field(default_factory=EnvironmentSpec)
    render: RenderSpec = field(default_factory=RenderSpec)
    frames: int = 49
    fps: int = 16
    physics_rate: int = 240
    gravity: Vec3 = (0.0, 0.0, -9.81)
    assets: str | None = None  # Kubric manifest; None: counterfactory's own library
    seed: int = 0

    def __post_init__(self):
        names = [o.name for o in self.objects] + [b.name for b in self.bodies]
        if len(set(names)) != len(names):
            raise ValueError(f"object names must be unique, got {names}")
        if self.physics_rate % self.fps:
            raise ValueError(f"physics_rate ({self.physics_rate}) must be a multiple of fps ({self.fps})")
        if self.frames < 1:
            raise ValueError("frames must be >= 1")

    # -- lookup -----------------------------------------------------------------------------------
    def index(self, name: str) -> int:
        for i, o in enumerate(self.objects):
            if o.name == name:
                return i
        raise KeyError(f"no object named {name!r}")

    def segmentation_id(self, name: str) -> int:
        """Objects are 1..N in spec order, bodies N+1.. after them; 0 is background."""
        for j, b in enumerate(self.bodies):
            if b.name == name:
                return len(self.objects) + j + 1
        return self.index(name) + 1

    def segmentation_ids(self) -> dict[str, int]:
        return {n: self.segmentation_id(n) for n in [o.name for o in self.objects] + [b.name for b in self.bodies]}

    # -- serialisation ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, **kwargs)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SceneSpec":
        return _from_dict(cls, d)

    @classmethod
    def from_json(cls, text: str) -> "SceneSpec":
        return cls.from_dict(json.loads(text))


def spec_data(spec: SceneSpec) -> dict[str, Any]:
    """The spec as data for a sample's metadata: Cycles' thread count changes no pixel, so it is not
    recorded (0 = auto)."""
    d = spec.to_dict()
    d["render"]["threads"] = 0
    return d


_NESTED = {"MaterialSpec": MaterialSpec, "CameraSpec": CameraSpec, "EnvironmentSpec": EnvironmentSpec,
           "RenderSpec": RenderSpec}


def _resolve(annotation):
    """Map a (string) annotation to a dataclass to recurse into, a list-of-dataclass, or a tuple."""
    text = str(annotation)
    if text in _NESTED:
        return _NESTED[text]
    if text == "list[ObjectSpec]":
        return _ListOf(ObjectSpec)
    if text == "list[LightSpec]":
        return _ListOf(LightSpec)
    if text == "list[BodySpec]":
        return _ListOf(BodySpec)
    if text.startswith(("Vec3", "Quat", "Color", "tuple")):
        return _Tuple()
    return None


class _ListOf:
    def __init__(self, item):
        self.item = item


class _Tuple:
    pass


def _from_dict(tp, value):
    """Rebuild nested dataclasses from ``asdict`` output (JSON lists become tuples where typed so)."""
    if isinstance(tp, _ListOf):
        return [_from_dict(tp.item, v) for v in value]
    if isinstance(tp, _Tuple):
        return _to_tuple(value)
    if dataclasses.is_dataclass(tp):
        hints = {f.name: f.type for f in dataclasses.fields(tp)}
        unknown = set(value) - set(hints)
        if unknown:
            raise ValueError(f"{tp.__name__}: unknown fields {sorted(unknown)}")
        return tp(**{k: _from_dict(_resolve(hints[k]), v) for k, v in value.items()})
    return value


def _to_tuple(value):
    if isinstance(value, (list, tuple)):
        return tuple(_to_tuple(v) for v in value)
    return value
