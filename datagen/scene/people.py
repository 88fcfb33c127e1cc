"""People in scenes, for every generator: the looks a body is drawn with, an adult's anny phenotype, and the
camera that films a person the way a video shot does (in front of the action, static or following)."""
from __future__ import annotations

import math

import numpy as np

from datagen.scene.describe import article
from datagen.scene.spec import BodySpec, CameraSpec

SKIN = ((0.96, 0.8, 0.69), (0.87, 0.67, 0.53), (0.72, 0.52, 0.38), (0.55, 0.37, 0.25), (0.36, 0.23, 0.15))
CLOTHES = ((0.15, 0.2, 0.4), (0.5, 0.1, 0.1), (0.2, 0.35, 0.2), (0.8, 0.8, 0.78), (0.1, 0.1, 0.12),
           (0.55, 0.45, 0.3), (0.3, 0.3, 0.35), (0.7, 0.55, 0.2))
CLOTHES_NAMES = ("navy", "dark red", "green", "white", "black", "brown", "grey", "mustard")  # CLOTHES, in order
HUMAN_CAMERA_MOTIONS = ("static", "zoom", "orbit", "track")
SHIRTS, TROUSERS, SHOES = ("cotton", "wool", "satin", "canvas"), ("denim", "cotton", "wool", "canvas"), ("leather", "canvas")
MOTION_WORDS = {"walk": "walks across the scene", "turn": "turns around on the spot",
                "wave": "raises a hand and waves", "sit": "sits down on a chair", "": "moves as recorded"}
# anny's phenotype ranges that give adults (age 0.5 is between child and young adult; 0.67 is young
# adult): 1.50-1.80 m women and 1.63-1.93 m men at heights 0.25-0.55
ADULT = {"age": (0.67, 0.95), "gender": (0.0, 1.0), "height": (0.25, 0.55), "weight": (0.2, 0.8),
         "muscle": (0.2, 0.8), "proportions": (0.3, 0.7)}


def sample_person(rng: np.random.Generator, name: str, motion: str) -> BodySpec:
    """An adult anny body of varied shape, skin tone and clothes, driven by the named procedural motion."""
    phenotype = {k: round(float(rng.uniform(lo, hi)), 4) for k, (lo, hi) in ADULT.items()}
    return BodySpec(name=name, model="anny", motion=motion, phenotype=phenotype, **looks(rng))


def looks(rng: np.random.Generator) -> dict:
    """A person's skin tone, clothes colours, sleeves and fabrics (``BodySpec`` fields)."""
    return {"skin_color": SKIN[int(rng.integers(len(SKIN)))],
            "shirt_color": CLOTHES[int(rng.integers(len(CLOTHES)))],
            "trousers_color": CLOTHES[int(rng.integers(len(CLOTHES)))],
            "shoes_color": CLOTHES[int(rng.integers(len(CLOTHES)))], "sleeves": bool(rng.random() < 0.6),
            "shirt_fabric": str(rng.choice(SHIRTS)), "trousers_fabric": str(rng.choice(TROUSERS)),
            "shoes_fabric": str(rng.choice(SHOES))}


def person_source(person) -> dict:
    """What a generator's ``person`` section (``body``, ``smplx.model``, ``smplx.motion``) asks for, checked in
    one line: {"body": "anny"} or {"body": "smplx", "model": ..., "motions": [npz stems], "folder": ...}."""
    from pathlib import Path

    body = str(person.get("body", "anny")) if person is not None else "anny"
    if body == "anny":
        return {"body": "anny"}
    if body != "smplx":
        raise ValueError(f"person.body={body!r}; choose from ('anny', 'smplx')")
    smplx = person.get("smplx") or {}
    model, motion = smplx.get("model"), smplx.get("motion")
    if not model or not motion:
        raise ValueError("person.body=smplx needs person.smplx.model (SMPL-X model file or folder) and "
                         "person.smplx.motion (AMASS-style npz folder or file)")
    if not Path(model).exists():
        raise ValueError(f"person.smplx.model not found: {model}")
    path = Path(motion)
    files = sorted(path.glob("*.npz")) if path.is_dir() else [path] if path.is_file() else []
    if not files:
        raise ValueError(f"person.smplx.motion: no .npz motion at {motion}")
    return {"body": "smplx", "model": str(model), "folder": str(path if path.is_dir() else path.parent),
            "motions": [f.stem for f in files]}


def sample_smplx_person(rng: np.random.Generator, name: str, source: dict) -> BodySpec:
    """A SMPL-X body (the user's model) under one of the user's AMASS-style motions, played in real time;
    skin and clothes drawn as for anny bodies."""
    return BodySpec(name=name, model="smplx", smplx_model=source["model"], smplx_motion=source["folder"],
                    sequence=str(rng.choice(source["motions"])), resample="fps", **looks(rng))


def draw_person(rng: np.random.Generator, name: str, motions, source: dict | None = None) -> tuple[BodySpec, float]:
    """(a person, the direction it faces: radians, 0 = -Y): an adult anny body under one of ``motions``, or,
    when ``source`` (``person_source``) says smplx, the user's SMPL-X body and motion (facing drawn at random:
    recorded motion faces anywhere)."""
    if source is not None and source["body"] == "smplx":
        body = sample_smplx_person(rng, name, source)
        return body, float(rng.uniform(0, 2 * math.pi))
    from datagen.humans import fixtures

    motion = str(rng.choice(motions))
    return sample_person(rng, name, motion), float(np.mean(fixtures.script(motion, 90).yaw))


def check_camera_motion(motion: str | None) -> None:
    if motion is not None and motion not in HUMAN_CAMERA_MOTIONS:
        raise ValueError(f"humoto.camera_motion={motion!r}; choose from {HUMAN_CAMERA_MOTIONS} (or null: random)")


def person_camera(rng: np.random.Generator, points: np.ndarray, hips: np.ndarray, facing: float,
                  motion: str | None, aspect: float = 480 / 832) -> CameraSpec:
    """A camera in front of the action (±70° around the person's mean facing), far enough to see
    every point of the body and objects over the whole clip, across and (frame height / width
    ``aspect``) from head to foot. A following camera (``track``) needs only the points as seen
    from the hips' path: callers may pass them relative to it."""
    centre = (points.min(0) + points.max(0)) / 2
    extent = float(np.linalg.norm(points.max(0)[:2] - points.min(0)[:2])) / 2 + 0.3
    height_top = float(points[:, 2].max())
    focal = float(rng.uniform(28, 40))
    half_fov = math.atan(36.0 / 2 / focal) * 0.75  # 36 mm sensor, keep a margin
    look_z = min(0.85, height_top / 2)
    upright = 1.15 * max(height_top - look_z, look_z) / math.tan(math.atan(36.0 * aspect / 2 / focal))
    distance = max(max(extent, height_top / 1.6) / math.tan(half_fov), upright) + extent
    azimuth = facing + float(rng.uniform(-1.2, 1.2))
    elevation = float(rng.uniform(math.radians(8), math.radians(28)))
    look_at = np.array([centre[0], centre[1], look_z])
    offset = np.array([math.sin(azimuth) * math.cos(elevation), -math.cos(azimuth) * math.cos(elevation),
                       math.sin(elevation)]) * distance
    check_camera_motion(motion)
    motion = motion or str(rng.choice(HUMAN_CAMERA_MOTIONS))
    amount = {"static": 0.0, "zoom": float(rng.uniform(0.15, 0.35)), "orbit": float(rng.uniform(-0.5, 0.5)),
              "track": 0.0}[motion]
    path = ()
    if motion == "track":  # follow the hips (smoothed), at the look-at height
        kernel = np.ones(5) / 5
        smooth = np.stack([np.convolve(np.pad(hips[:, k], 2, mode="edge"), kernel, "valid") for k in range(2)], 1)
        shift = smooth - smooth[0]
        path = tuple(tuple(float(x) for x in (look_at[0] + s[0], look_at[1] + s[1], look_at[2])) for s in shift)
    return CameraSpec(position=tuple(float(x) for x in look_at + offset), look_at=tuple(float(x) for x in look_at),
                      focal_length=focal, sensor_width=36.0, motion=motion, amount=amount, path=path)


def age_group(age: float) -> str:
    """The apparent age group of an anny age (its anchors: child 1/3, young adult 2/3, old 1)."""
    return "young" if age < 0.78 else "middle-aged" if age < 0.9 else "older"


def pronoun(body: BodySpec) -> str:
    """he, she, or person (referred to as "the person") by anny's gender parameter, as ``describe_person`` names them."""
    gender = float(body.phenotype.get("gender", 0.5))
    return "he" if gender < 0.35 else "she" if gender > 0.65 else "person"


def describe_person(body: BodySpec) -> str:
    """A person in words from the spec: apparent age group, build, clothing colours and fabrics (``a young woman
    in a short-sleeved green cotton shirt and navy denim trousers``)."""
    ph = body.phenotype
    noun = {"he": "man", "she": "woman", "person": "person"}[pronoun(body)]
    group = age_group(float(ph.get("age", 0.8))) if "age" in ph else ""
    weight = float(ph.get("weight", 0.5))
    build = "heavy-set" if weight > 0.7 else "slim" if weight < 0.3 else ""

    def colour(c) -> str:
        c = tuple(float(x) for x in c)
        return CLOTHES_NAMES[CLOTHES.index(c)] if c in CLOTHES else "dark"

    def fabric(name: str) -> str:
        return "" if name == "plain" else f"{name} "

    shirt = f"{'' if body.sleeves else 'short-sleeved '}{colour(body.shirt_color)} {fabric(body.shirt_fabric)}shirt"
    who = " ".join(w for w in (group, build, noun) if w)
    return article(f"{who} in {article(shirt)} and {colour(body.trousers_color)} {fabric(body.trousers_fabric)}trousers")


def person_meta(body) -> dict:
    """What a sample's meta says about its person: the body parameters and the motion's name."""
    return {"model": body.model, "motion": body.motion, "phenotype": dict(body.phenotype),
            "skin_color": list(body.skin_color), "shirt_color": list(body.shirt_color),
            "trousers_color": list(body.trousers_color), "shoes_color": list(body.shoes_color),
            **({"sequence": body.sequence} if body.model == "smplx" else {}),
            "sleeves": body.sleeves, "fabrics": {"shirt": body.shirt_fabric, "trousers": body.trousers_fabric,
                                                 "shoes": body.shoes_fabric}}


def framing_points(vertices: np.ndarray, motion: str) -> tuple[np.ndarray, np.ndarray]:
    """(points (N, 3), hips (T, 3)) a camera frames a posed body (T, V, 3) by: every frame's sampled
    surface, or, for a following camera (``track``), every frame's surface carried to where the body
    starts, so the shot is sized for the body rather than for its whole path."""
    hips = vertices.mean(axis=1).astype(np.float64)
    points = vertices[:, ::97].astype(np.float64)
    if motion == "track":
        points = points - hips[:, None] + hips[:1, None]
    return points.reshape(-1, 3), hips
