"""Scenes for Vera's rendered families: a *set* (floor, sky, sun, props, a moving camera) and the
*subjects* inserted into it, simulated once with PyBullet.

Props are static and kept off the subjects' paths (a draw whose subject touches a prop loses that
prop), so the world without the subjects is the same world minus their pixels: the plate is the
same simulation with the subjects hidden, and nothing but the subjects' own effects differs.

- ``sample_single``: one subject moving (slides, rolls, drops, is tossed) in a lit set with a few
  props and camera motion; its shadow belongs to the layer.
- ``sample_multi``: one or two subjects (often metal) on a glossy or mirror floor among several
  props, one of which stands between the camera and the subjects' path (occlusion), so shadows,
  reflections and occlusion all reach the layer.
- ``sample_person_scene``: a person (an adult anny body under a named motion: walk, turn, wave, sit)
  instead of objects, in either family's set; the chair one sits on stays in the set, and the camera
  films the person as a video shot does (static, following, zooming or orbiting).
- ``other_set``: a second set for the same subjects and camera (background change).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from datagen.core.rotations import rotate, yaw
from datagen.scene.geometry import geometry, project
from datagen.scene.random_scene import FLOORS, keep_asset_looks, material, orbit_camera, pick_asset, sky_and_sun
from datagen.scene.simulate import WorldStates, simulate
from datagen.scene.spec import CameraSpec, MaterialSpec, ObjectSpec, SceneSpec

SUBJECTS = ("cube", "sphere", "cylinder", "cone", "torus", "capsule", "mug", "bowl", "bottle", "vase",
            "book", "box", "ball", "plate")
ROLLERS = ("sphere", "ball", "capsule", "cylinder")
PROPS = ("cube", "cylinder", "cone", "mug", "bowl", "bottle", "vase", "book", "box", "plate", "chair",
         "table", "shelf", "torus")
OCCLUDERS = ("bottle", "vase", "box", "cylinder", "cube", "chair", "cone")
MOTIONS = ("slide", "roll", "drop", "toss")
GLOSSY_FLOORS = {"mirror": ((0.9, 0.9, 0.92), (0.9, 0.9, 0.92)), "marble": FLOORS["marble"],
                 "tiles": FLOORS["tiles"]}
MOVING_CAMERAS = ("dolly", "zoom", "pan", "orbit")
PERSON_MOTIONS = ("walk", "turn", "wave", "sit")  # humans.fixtures.MOTIONS a person does on their own
PERSON_CAMERAS = {"static": 0.35, "track": 0.35, "zoom": 0.15, "orbit": 0.15}


@dataclass
class VeraScene:
    spec: SceneSpec
    subjects: list[str]  # the inserted objects: the edit layer
    props: list[str]  # everything else that stays
    states: WorldStates
    story: dict = field(default_factory=dict)  # motions, occluder, attempts (plain data)


def restrict(states: WorldStates, names) -> WorldStates:
    """The states of ``names`` only (e.g. the subjects, to replay them in another set)."""
    idx = [states.index(n) for n in names]
    return WorldStates(names=list(names), positions=states.positions[:, idx], quaternions=states.quaternions[:, idx],
                       velocities=states.velocities[:, idx], angular_velocities=states.angular_velocities[:, idx],
                       collisions=[e for e in states.collisions if e["a"] in names or e["b"] in names],
                       seconds=states.seconds)


# -- camera geometry (no Blender) -------------------------------------------------------------------
def in_view(camera: CameraSpec, frames: int, width: int, height: int, points, margin: float = 0.05) -> np.ndarray:
    """(T, N) bool: the points project inside the frame with a margin (fraction of the size)."""
    rc = project(camera, frames, width, height, points)
    r, c = rc[..., 0], rc[..., 1]
    with np.errstate(invalid="ignore"):
        return (r > margin * height) & (r < (1 - margin) * height) & (c > margin * width) & (c < (1 - margin) * width)


# -- pieces -----------------------------------------------------------------------------------------
def subject(rng, source, name: str, motion: str, preset: str | None = None, around=(0.0, 0.0),
            speed=(0.5, 1.3)) -> ObjectSpec:
    """A subject starting near ``around`` with a motion: slide / roll along the floor, drop from a
    height, or toss (an arc with spin)."""
    asset = pick_asset(rng, source, ROLLERS, "round") if motion == "roll" else pick_asset(rng, source, SUBJECTS)
    g, scale = geometry(source, asset), float(rng.uniform(1.0, 1.5))
    heading = float(rng.uniform(0, 2 * math.pi))
    direction = np.array([math.cos(heading), math.sin(heading)])
    v = float(rng.uniform(*speed))
    start = np.asarray(around, float) - direction * v * 0.35  # so that the path is centred on ``around``
    z = g.rest_z(scale) + 0.002
    velocity, spin, quaternion = (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), yaw(float(rng.uniform(0, 2 * math.pi)))
    if motion in ("slide", "roll"):
        velocity = (*(direction * v), 0.0)
        if motion == "roll" and asset == "cylinder":  # on its side, axis across the heading
            h = math.sqrt(0.5)
            quaternion = (h, h * math.cos(heading), h * math.sin(heading), 0.0)
            z = float(g.size[0]) / 2 * scale + 0.002
        elif motion == "roll" and asset == "capsule":  # lies along x: turn it across the heading
            quaternion = yaw(heading + math.pi / 2)
    elif motion == "drop":
        start = np.asarray(around, float)
        z += float(rng.uniform(0.35, 0.8))
        velocity = (*(direction * 0.2 * v), 0.0)
        spin = tuple(float(s) for s in rng.uniform(-2, 2, 3))
    else:  # toss
        z += float(rng.uniform(0.1, 0.3))
        velocity = (*(direction * v), float(rng.uniform(1.0, 2.0)))
        spin = tuple(float(s) for s in rng.uniform(-6, 6, 3))
    return ObjectSpec(name, asset, material(rng, preset), scale, position=(float(start[0]), float(start[1]), z),
                      quaternion=quaternion, velocity=tuple(float(x) for x in velocity), angular_velocity=spin)


def props_around(rng, source, count: int, avoid: np.ndarray, prefix: str = "prop", assets=PROPS,
                 ring=(0.5, 1.8), clearance: float = 0.2) -> list[ObjectSpec]:
    """Static props on the floor, at least ``clearance`` from every point of ``avoid`` (N, 2) and
    from each other."""
    out, taken = [], [(float(x), float(y), 0.0) for x, y in avoid]
    centre = avoid.mean(axis=0) if len(avoid) else np.zeros(2)
    for k in range(count):
        asset = pick_asset(rng, source, assets, "any")
        g = geometry(source, asset)
        scale = float(rng.uniform(0.9, 1.3)) if asset not in ("table", "shelf", "chair") else 1.0
        r = g.radius(scale)
        for _ in range(100):
            a, d = rng.uniform(0, 2 * math.pi), rng.uniform(*ring)
            x, y = centre[0] + d * math.cos(a), centre[1] + d * math.sin(a)
            if all(math.hypot(x - ox, y - oy) > r + orad + clearance for ox, oy, orad in taken):
                taken.append((x, y, r))
                out.append(ObjectSpec(f"{prefix}_{k}", asset, material(rng), scale,
                                      position=(x, y, g.rest_z(scale) + 0.001),
                                      quaternion=yaw(float(rng.uniform(0, 2 * math.pi))), static=True))
                break
    return out


def frame_camera(rng, path: np.ndarray, frames: int, width: int, height: int, motions=MOVING_CAMERAS,
                 elevation=(0.45, 1.4), tries: int = 12) -> CameraSpec:
    """A camera (random motion from ``motions``) that keeps the path (T, N, 3) in view."""
    flat = path.reshape(-1, 3)
    centre = flat.mean(axis=0)
    extent = float(np.linalg.norm(flat[:, :2] - centre[:2], axis=1).max()) if len(flat) else 0.0
    look = (float(centre[0]), float(centre[1]), float(max(0.1, min(centre[2], 0.4))))
    d = max(1.2, 2.2 * extent + 0.9)
    best, best_score = None, -1.0
    for _ in range(tries):
        cam = orbit_camera(rng, distance=(d, 1.3 * d), height=elevation, look_at=look,
                           motion=str(rng.choice(motions)))
        score = float(in_view(cam, frames, width, height, path).mean())
        if score > best_score:
            best, best_score = cam, score
        if score >= 0.95:
            break
    return best


def occluder(rng, source, camera: CameraSpec, path: np.ndarray, frames: int, avoid: np.ndarray,
             name: str = "occluder", tries: int = 60) -> ObjectSpec | None:
    """A static object between the camera (mid-clip) and the middle of the subjects' path, tall
    enough to cut the line of sight there and off to one side by less than its width, so it hides
    part of a subject for part of the clip. None if no draw fits."""
    pos = np.asarray(camera.poses(frames)[frames // 2][0])
    mid3 = path.reshape(-1, 3).mean(axis=0)
    mid, sight = mid3[:2], max(0.05, float(mid3[2]) - 0.05)  # aim at the subject's lower half
    ray = mid - pos[:2]
    dist = float(np.linalg.norm(ray))
    side = np.array([-ray[1], ray[0]]) / max(dist, 1e-9)
    for _ in range(tries):
        asset = pick_asset(rng, source, OCCLUDERS, "tall")
        g = geometry(source, asset)
        scale = 1.0 if asset in ("chair", "shelf") else float(rng.uniform(1.3, 2.0))
        r, top = g.radius(scale), float(g.size[2]) * scale
        # the line of sight is at sight + f * (camera height - sight) a fraction f of the way to the camera
        f_max = min(0.6, (0.85 * top - sight) / max(float(pos[2]) - sight, 1e-6))
        f_min = (r + 0.2) / max(dist, 1e-6)
        if f_max < f_min:
            continue
        offset = float(rng.uniform(0.45, 1.0)) * r * float(rng.choice([-1.0, 1.0]))
        at = mid - ray * float(rng.uniform(f_min, f_max)) + side * offset
        if np.all(np.linalg.norm(avoid - at, axis=1) > r + 0.1):
            return ObjectSpec(name, asset, material(rng), scale, position=(float(at[0]), float(at[1]), g.rest_z(scale) + 0.001),
                              quaternion=yaw(float(rng.uniform(0, 2 * math.pi))), static=True)
    return None


def path_xy(source, spec: SceneSpec, states: WorldStates, names, samples: int = 12) -> np.ndarray:
    """Floor points (N, 2) along the subjects' paths, padded by their radii (for clearance checks)."""
    pts = []
    for name in names:
        o = spec.objects[spec.index(name)]
        r = geometry(source, o.asset_id).radius(o.scale)
        p = states.trajectory(name)[0]
        for t in np.linspace(0, len(p) - 1, min(samples, len(p))).round().astype(int):
            for a in np.linspace(0, 2 * math.pi, 6, endpoint=False):
                pts.append(p[t, :2] + r * np.array([math.cos(a), math.sin(a)]))
    return np.array(pts)


def _touching(states: WorldStates, subjects, props) -> set[str]:
    return {e["b"] if e["a"] in subjects else e["a"] for e in states.collisions
            if (e["a"] in subjects and e["b"] in props) or (e["b"] in subjects and e["a"] in props)}


def _settle_props(spec: SceneSpec, source, subjects) -> tuple[SceneSpec, WorldStates, list[str]]:
    """Simulate; drop props a subject touches (and re-simulate) until none is touched."""
    dropped = []
    while True:
        states = simulate(spec, source=source)
        hit = _touching(states, subjects, [o.name for o in spec.objects if o.name not in subjects])
        if not hit:
            return spec, states, dropped
        dropped += sorted(hit)
        spec = dataclasses.replace(spec, objects=[o for o in spec.objects if o.name not in hit])


def _subject_paths(rng, source, render, frames, fps, count, preset_metal: float, env, sun):
    """Subjects simulated alone on the set's floor: their paths place the camera and the props."""
    motions = [str(rng.choice(MOTIONS)) for _ in range(count)]
    spread = 0.0 if count == 1 else 0.35
    subjects = []
    for i, m in enumerate(motions):
        around = (spread * (2 * i - 1) * float(rng.uniform(0.7, 1.0)), float(rng.uniform(-0.15, 0.15)) * spread)
        preset = "metal" if rng.random() < preset_metal else None
        subjects.append(subject(rng, source, f"subject_{i}" if count > 1 else "subject", m, preset, around))
    spec = SceneSpec(objects=subjects, camera=CameraSpec(), lights=[sun], environment=env, render=render,
                     frames=frames, fps=fps)
    states = simulate(spec, source=source)
    return spec, states, motions


def sample_single(rng, source, render, frames: int, fps: int, props=(1, 3)) -> VeraScene:
    env, sun = sky_and_sun(rng, source)
    spec, states, motions = _subject_paths(rng, source, render, frames, fps, 1, 0.2, env, sun)
    names = [o.name for o in spec.objects]
    path = states.positions
    camera = frame_camera(rng, path, frames, render.width, render.height,
                          motions=MOVING_CAMERAS + ("static",) if rng.random() < 0.15 else MOVING_CAMERAS)
    extra = props_around(rng, source, int(rng.integers(props[0], props[1] + 1)), path_xy(source, spec, states, names))
    spec = dataclasses.replace(spec, camera=camera, objects=[*spec.objects, *extra])
    spec, states, dropped = _settle_props(spec, source, names)
    spec = keep_asset_looks(spec, source)
    return VeraScene(spec, names, [o.name for o in spec.objects if o.name not in names], states,
                     {"motions": dict(zip(names, motions)), "dropped_props": dropped, "occluder": None})


def sample_multi(rng, source, render, frames: int, fps: int, props=(2, 4)) -> VeraScene:
    env, sun = sky_and_sun(rng, source)
    floor = str(rng.choice(sorted(GLOSSY_FLOORS), p=[0.35, 0.45, 0.2]))
    env = dataclasses.replace(env, floor=floor, floor_colors=GLOSSY_FLOORS[floor])
    count = 2 if rng.random() < 0.4 else 1
    spec, states, motions = _subject_paths(rng, source, render, frames, fps, count, 0.5, env, sun)
    names = [o.name for o in spec.objects]
    path = states.positions
    camera = frame_camera(rng, path, frames, render.width, render.height, elevation=(0.35, 0.9))
    avoid = path_xy(source, spec, states, names)
    extra = props_around(rng, source, int(rng.integers(props[0], props[1] + 1)), avoid,
                         assets=PROPS + ("cylinder", "vase"))
    for o in extra:
        if rng.random() < 0.35:
            o.material = MaterialSpec("metal", o.material.color)
    blocker = occluder(rng, source, camera, path, frames,
                       np.concatenate([avoid, np.array([o.position[:2] for o in extra]).reshape(-1, 2)]))
    extra = [*extra, blocker] if blocker is not None else extra
    spec = dataclasses.replace(spec, camera=camera, objects=[*spec.objects, *extra])
    spec, states, dropped = _settle_props(spec, source, names)
    occ = "occluder" if any(o.name == "occluder" for o in spec.objects) else None
    return VeraScene(spec, names, [o.name for o in spec.objects if o.name not in names], states,
                     {"motions": dict(zip(names, motions)), "dropped_props": dropped, "occluder": occ})


def person_props(rng, source, body, frames: int) -> list[ObjectSpec]:
    """The props a person's motion needs (the chair it sits on, made for the body) as static objects of the
    scene's library, where the script puts them."""
    from datagen.humans import fixtures
    from datagen.humans.anny_body import anny_model, rest_skeleton

    script = fixtures.script(body.motion, frames, rest_skeleton(anny_model(), body.phenotype))
    out = []
    for name, (q, centre) in script.objects.items():
        g = geometry(source, name)
        scale = float(script.meshes[name].extents[2] / g.size[2])
        origin = centre[0] - rotate(q[0], (g.lower + g.upper) / 2 * scale)  # the library's origin: its centre of mass
        out.append(ObjectSpec(f"{body.name}_{name}", name, material(rng, "wood"), scale, position=tuple(float(x) for x in origin),
                              quaternion=tuple(float(x) for x in q[0]), static=True))
    return out


def sample_person_scene(rng, source, render, frames: int, fps: int, family: str, props=(1, 3),
                        person: dict | None = None) -> VeraScene:
    """A person as the subject of a rendered family's set (``single_object``: a lit set with a few props;
    ``multi_object``: a glossy or mirror floor, metal props and an occluder in front); ``person``: what
    ``scene.people.person_source`` read from ``vera.person`` (default: anny bodies under our named motions)."""
    from datagen.humans.body import body_mesh
    from datagen.scene.people import draw_person, framing_points, person_camera

    env, sun = sky_and_sun(rng, source)
    if family == "multi_object":
        floor = str(rng.choice(sorted(GLOSSY_FLOORS), p=[0.35, 0.45, 0.2]))
        env = dataclasses.replace(env, floor=floor, floor_colors=GLOSSY_FLOORS[floor])
    body, facing = draw_person(rng, "person", PERSON_MOTIONS, person)
    own = person_props(rng, source, body, frames) if body.motion else []
    verts = body_mesh(body, frames, fps).vertices
    points = verts[:, ::97]  # (T, N, 3) a sample of the body's surface
    shot = str(rng.choice(list(PERSON_CAMERAS), p=list(PERSON_CAMERAS.values())))
    camera = person_camera(rng, *framing_points(verts, shot), facing, shot, render.height / render.width)
    avoid = np.concatenate([points.reshape(-1, 3)[::5, :2], np.array([o.position[:2] for o in own]).reshape(-1, 2)])
    extra = props_around(rng, source, int(rng.integers(props[0], props[1] + 1)), avoid,
                         assets=PROPS + (("cylinder", "vase") if family == "multi_object" else ()), ring=(0.8, 2.2))
    occ = None
    if family == "multi_object":
        for o in extra:
            if rng.random() < 0.35:
                o.material = MaterialSpec("metal", o.material.color)
        blocker = occluder(rng, source, camera, points, frames,
                           np.concatenate([avoid, np.array([o.position[:2] for o in extra]).reshape(-1, 2)]))
        if blocker is not None:
            extra, occ = [*extra, blocker], blocker.name
    spec = SceneSpec(objects=[*own, *extra], bodies=[body], camera=camera, lights=[sun], environment=env,
                     render=render, frames=frames, fps=fps)
    states = simulate(spec, source=source)  # the props (static); the body follows its motion
    spec = keep_asset_looks(spec, source)
    return VeraScene(spec, [body.name], [o.name for o in spec.objects], states,
                     {"motions": {body.name: body.motion or body.sequence}, "dropped_props": [], "occluder": occ,
                      "person_props": [o.name for o in own]})


def other_set(rng, source, scene: VeraScene, props=(1, 3)) -> VeraScene:
    """The same subjects (replayed, not re-simulated) and camera in a new set: another sky, sun,
    floor and props. Its ``states`` hold the subjects only (props are static)."""
    env, sun = sky_and_sun(rng, source)
    if scene.spec.environment.floor == env.floor:
        others = sorted(set(FLOORS) - {env.floor})
        floor = str(rng.choice(others))
        env = dataclasses.replace(env, floor=floor, floor_colors=FLOORS[floor])
    carried = scene.story.get("person_props", [])  # what a person's motion needs (the chair) comes along
    subjects = [o for o in scene.spec.objects if o.name in scene.subjects or o.name in carried]
    moving = [n for n in scene.states.names if n in scene.subjects or n in carried]
    if scene.spec.bodies:
        from datagen.humans.body import body_mesh

        verts = np.concatenate([body_mesh(b, scene.spec.frames, scene.spec.fps).vertices[:, ::97].reshape(-1, 3)
                                for b in scene.spec.bodies])
        avoid = np.concatenate([verts[::5, :2], np.array([o.position[:2] for o in subjects]).reshape(-1, 2)])
    else:
        avoid = path_xy(source, scene.spec, scene.states, scene.subjects)
    extra = props_around(rng, source, int(rng.integers(props[0], props[1] + 1)), avoid, prefix="set_b")
    spec = keep_asset_looks(dataclasses.replace(scene.spec, objects=[*subjects, *extra], lights=[sun], environment=env),
                            source)
    return VeraScene(spec, list(scene.subjects), [o.name for o in extra if o.name not in carried],
                     restrict(scene.states, moving), {**scene.story, "set": "B"})


def background_set(rng, source, render, frames: int, fps: int, props=(2, 5)) -> SceneSpec:
    """A set with props and a moving camera and nothing inserted: a rendered background video."""
    env, sun = sky_and_sun(rng, source)
    centre = np.array([[0.0, 0.0]])
    objects = props_around(rng, source, int(rng.integers(props[0], props[1] + 1)), centre, ring=(0.2, 1.6),
                           clearance=0.1)
    camera = orbit_camera(rng, distance=(1.8, 3.0), height=(0.6, 1.6), look_at=(0.0, 0.0, 0.15),
                          motion=str(rng.choice(MOVING_CAMERAS)))
    return keep_asset_looks(SceneSpec(objects=objects, camera=camera, lights=[sun], environment=env, render=render,
                                      frames=frames, fps=fps), source)
