"""Words for what a clip shows, from the scene description and the simulated motion: object names
(asset, colour, material), motion (what falls, rolls, slides, topples or stays put), camera and
setting. VOID's captions (``datagen.void.captions``) and Vera's instructions are built from them, so
neither describes something the clip does not show."""
from __future__ import annotations

import math
import re

import numpy as np

from datagen.core.rotations import rotation_angle
from datagen.scene.random_scene import PALETTE
from datagen.scene.simulate import WorldStates
from datagen.scene.spec import SceneSpec

COLOR_NAMES = ("red", "blue", "yellow", "green", "orange", "purple", "white", "black")

NOUNS = {"box": "box", "cube": "cube", "sphere": "sphere", "ball": "toy ball", "mug": "mug",
         "bowl": "bowl", "plate": "plate", "bottle": "bottle", "vase": "vase", "book": "book",
         "domino": "domino", "chair": "chair", "table": "table", "shelf": "bookshelf",
         "cylinder": "cylinder", "cone": "cone", "torus": "ring", "capsule": "capsule"}
MATERIALS = {"rubber": "rubber", "metal": "metal", "plastic": "plastic", "wood": "wooden",
             "ceramic": "ceramic", "glass": "glass"}
ROUND = {"sphere", "ball", "cylinder", "capsule", "torus", "bottle"}
FLOORS = {"checker": "a checkered floor", "tiles": "a tiled floor", "wood": "a wooden floor",
          "concrete": "a concrete floor", "marble": "a polished marble floor", "mirror": "a mirror-like floor",
          "plain": "a plain floor", "photo": "a tiled floor"}
# Where an HDRI puts the scene (by the map's name); others are "lit by its surroundings".
HDRI_PLACES = {"city": "on a city rooftop", "courtyard": "in a sunny courtyard", "forest": "in a forest clearing",
               "interior": "in a hotel room", "night": "at night", "studio": "in a photo studio",
               "sunrise": "at sunrise", "sunset": "at sunset", "apartment": "in an apartment", "bridge": "by a bridge",
               "dawn": "at dawn", "esplanade": "on an esplanade", "hall": "in a hall", "lab": "in a laboratory",
               "lobby": "in a lobby", "park": "in a park", "sky": "under an open sky", "venice": "in Venice at dusk",
               "warehouse": "in a warehouse", "workshop": "in a workshop",
               "autumn_field_puresky": "in an autumn field under a clear sky"}


def article(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def object_phrase(asset_id: str, preset: str, color, assets: str | None = None) -> str:
    """"red wooden box"; a real asset that keeps its own look is just its name ("teddy bear").
    ``assets``: the scene's manifest, whose metadata may name the asset (a GSO scan by its short
    description or category, ``datagen.assets.published.noun``); otherwise the id is the name."""
    from datagen.assets.library import caption_nouns

    noun = NOUNS.get(asset_id) or caption_nouns(assets).get(asset_id) \
        or re.sub(r"_\d+$", "", asset_id).replace("_", " ")
    if preset == "asset":
        return noun
    return f"{color_name(color)} {MATERIALS[preset]} {noun}"


def describe_object(spec: SceneSpec, name: str) -> str:
    o = spec.objects[spec.index(name)]
    return object_phrase(o.asset_id, o.material.preset, o.material.color, spec.assets)


def describe_motion(spec: SceneSpec, states: WorldStates, name: str) -> str:
    p, q = states.trajectory(name)
    o = spec.objects[spec.index(name)]
    horizontal = float(np.linalg.norm(p[-1, :2] - p[0, :2]))
    drop = float(p[0, 2] - p[:, 2].min())
    turned = float(rotation_angle(q[0], q[-1]))
    moving_at_end = float(np.linalg.norm(states.velocities[-1, states.index(name)])) > 0.05
    if horizontal < 0.02 and drop < 0.02 and turned < 0.1:
        return "stays where it is"
    parts = []
    if drop > 0.12:
        parts.append("falls" if drop > 0.3 else "drops")
    if turned > 0.9 and horizontal < 0.25:
        parts.append("topples over")
    elif horizontal >= 0.05:
        verb = "rolls" if o.asset_id in ROUND and turned > 1.0 else "slides"
        parts.append(f"{verb} about {_distance(horizontal)}")
    elif not parts:
        parts.append("shifts slightly")
    parts.append("keeps moving" if moving_at_end else "comes to rest")
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _distance(metres: float) -> str:
    if metres < 1.0:
        return f"{int(round(metres * 100 / 5) * 5) or 5} centimetres"
    return f"{metres:.1f} metres"


def describe_camera(spec: SceneSpec) -> str:
    c = spec.camera
    if c.motion == "static":
        return "A static camera looks at"
    if c.motion == "dolly":
        return "The camera slowly pushes in on"
    if c.motion == "zoom":
        return "The camera zooms in on" if c.amount >= 0 else "The camera zooms out from"
    if c.motion == "pan":
        return f"The camera pans {'left' if c.amount > 0 else 'right'} across"
    if c.motion == "track":
        return "A handheld camera follows the action in"
    return f"The camera orbits {'counter-clockwise' if c.amount > 0 else 'clockwise'} around"


def describe_setting(spec: SceneSpec) -> str:
    env = spec.environment
    floor = FLOORS.get(env.floor, "an open ground") if env.floor else "an open ground"
    if env.background == "sky":
        sun = math.degrees(env.sun_elevation)
        light = "under a bright midday sky" if sun > 50 else "in low sunlight that casts long shadows" \
            if sun < 32 else "under a clear afternoon sky"
    elif env.background == "hdri":
        place = (env.hdri or "").split("_", 2)[-1] if env.hdri else ""
        light = HDRI_PLACES.get(place, "lit by its surroundings")
    else:
        light = "against a plain backdrop"
    return f"{floor} {light}"


def color_name(color) -> str:
    """The name of the palette colour nearest to an sRGB colour."""
    d = [sum((a - b) ** 2 for a, b in zip(color, p)) for p in PALETTE]
    return COLOR_NAMES[int(np.argmin(d))]
