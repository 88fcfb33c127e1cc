"""Scene core: spec round trip, PyBullet physics, Cycles passes and their labels, at tiny sizes."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from datagen.scene.random_scene import random_physics_scene
from datagen.core.rotations import rotation_angle
from datagen.scene.simulate import simulate
from datagen.scene.spec import (CameraSpec, EnvironmentSpec, LightSpec, MaterialSpec, ObjectSpec,
                                RenderSpec, SceneSpec)

TINY = RenderSpec(width=96, height=64, spp=4, threads=2, seed=3)


@pytest.fixture(scope="module")
def source():
    from datagen.assets import open_asset_source
    return open_asset_source(None)


def _lineup(frames=6, floor="checker", **render) -> SceneSpec:
    """Three objects resting in a row, seen from the front, lit by a low sun from the side."""
    objects = [ObjectSpec("cube_a", "cube", MaterialSpec("plastic", (0.8, 0.2, 0.2)), position=(-0.6, 0, 0.16)),
               ObjectSpec("sphere_b", "sphere", MaterialSpec("rubber", (0.2, 0.3, 0.8)), position=(0.0, 0, 0.16)),
               ObjectSpec("cyl_c", "cylinder", MaterialSpec("metal", (0.8, 0.8, 0.3)), position=(0.6, 0, 0.16))]
    return SceneSpec(objects=objects,
                     camera=CameraSpec(position=(0, -3.2, 1.2), look_at=(0, 0, 0.1), focal_length=40),
                     lights=[LightSpec("sun", position=(4, -1, 3), intensity=4.0, size=1.0)],
                     environment=EnvironmentSpec(floor=floor),
                     render=RenderSpec(**{**TINY.__dict__, **render}), frames=frames, fps=12)


def lineup_scene(frames: int, **render):
    """(spec, states, source) of ``_lineup`` simulated: for the renderer tests of other modules."""
    from datagen.assets import open_asset_source

    source = open_asset_source(None)
    spec = _lineup(frames=frames, **render)
    return spec, simulate(spec, source=source), source


def lineup_renderer(scene, **render):
    """A SceneRenderer of a ``lineup_scene`` with some render settings replaced, states keyed."""
    from datagen.scene.render import SceneRenderer

    spec, states, source = scene
    spec = dataclasses.replace(spec, render=dataclasses.replace(spec.render, **render))
    renderer = SceneRenderer(spec, source=source)
    renderer.set_states(states)
    return renderer


# -- spec ------------------------------------------------------------------------------------------
def test_spec_json_round_trip():
    spec = random_physics_scene(7, frames=5)
    again = SceneSpec.from_json(spec.to_json())
    assert again == spec
    assert again.to_json() == spec.to_json()
    assert isinstance(again.objects[0].position, tuple)


def test_spec_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown fields"):
        SceneSpec.from_dict({**SceneSpec().to_dict(), "bogus": 1})
    with pytest.raises(ValueError, match="material preset"):
        MaterialSpec(preset="cheese")
    with pytest.raises(ValueError, match="multiple of fps"):
        SceneSpec(fps=7)
    with pytest.raises(ValueError, match="unique"):
        SceneSpec(objects=[ObjectSpec("a", "cube"), ObjectSpec("a", "sphere")])


@pytest.mark.parametrize("motion", ["static", "dolly", "zoom", "pan", "orbit"])
def test_camera_paths(motion):
    cam = CameraSpec(position=(0, -5, 2), look_at=(0, 0, 0.5), motion=motion, amount=0.4)
    poses = cam.poses(9)
    (p0, t0, f0), (p1, t1, f1) = poses[0], poses[-1]
    assert np.allclose(p0, cam.position) and np.allclose(t0, cam.look_at) and f0 == cam.focal_length
    dist = lambda p, t: np.linalg.norm(np.asarray(p) - np.asarray(t))  # noqa: E731
    if motion == "static":
        assert all(np.allclose(p, p0) and np.allclose(t, t0) and f == f0 for p, t, f in poses)
    elif motion == "dolly":
        assert dist(p1, t1) == pytest.approx(0.6 * dist(p0, t0))
    elif motion == "zoom":
        assert f1 == pytest.approx(1.4 * f0) and np.allclose(p1, p0)
    elif motion == "pan":
        assert np.allclose(p1, p0) and not np.allclose(t1, t0) and dist(p1, t1) == pytest.approx(dist(p0, t0))
    elif motion == "orbit":
        assert np.allclose(t1, t0) and dist(p1, t1) == pytest.approx(dist(p0, t0)) and not np.allclose(p1, p0)


# -- physics ---------------------------------------------------------------------------------------
def test_objects_fall_and_come_to_rest(source):
    spec = random_physics_scene(11, source.all_asset_ids, frames=96, fps=24)
    states = simulate(spec, source=source)
    assert states.positions.shape == (96, len(spec.objects), 3)
    assert np.isfinite(states.positions).all()
    start, end = states.positions[0, :, 2], states.positions[-1, :, 2]
    assert (end < start).all(), "every object fell"
    assert (end > 0).all() and (end < 0.6).all(), "and lies on the floor, not under it"
    settled = np.linalg.norm(states.positions[-1] - states.positions[-12], axis=-1)
    assert (settled < 0.01).all(), f"all at rest after 4 s (moved {settled} m in the last 0.5 s)"
    floor_hits = {(e["a"], e["b"]) for e in states.collisions if "floor" in (e["a"], e["b"])}
    assert len(floor_hits) == len(spec.objects), "every object's landing is a contact event"
    first = [e for e in states.collisions if e["frame"] > 0]
    assert all(e["force"] > 0 for e in first)


def test_simulation_is_deterministic_and_exclusion_drops_objects(source):
    spec = random_physics_scene(5, source.all_asset_ids, frames=20)
    a, b = simulate(spec, source=source), simulate(spec, source=source)
    assert np.array_equal(a.positions, b.positions) and np.array_equal(a.quaternions, b.quaternions)
    gone = spec.objects[0].name
    cf = simulate(spec, exclude=[gone], source=source)
    assert gone not in cf.names and len(cf.names) == len(spec.objects) - 1
    assert rotation_angle(np.array([1.0, 0, 0, 0]), np.array([math.cos(0.5), math.sin(0.5), 0, 0])) == pytest.approx(1.0)
    with pytest.raises(KeyError):
        simulate(spec, exclude=["nobody"], source=source)


# -- rendering -------------------------------------------------------------------------------------
@pytest.fixture
def lineup(source):
    from datagen.scene.render import SceneRenderer
    spec = _lineup()
    states = simulate(spec, source=source)
    renderer = SceneRenderer(spec, source=source)
    renderer.set_states(states)
    yield spec, states, renderer
    renderer.close()


@pytest.mark.render
def test_segmentation_at_projected_centres(lineup):
    spec, states, renderer = lineup
    out = renderer.render(layers=("segmentation", "depth"), frames=[0, 5])
    assert out["segmentation"].shape == (2, 64, 96) and out["segmentation"].dtype == np.uint16
    for k, frame in enumerate([0, 5]):
        for j, name in enumerate(states.names):
            row, col = renderer.project(states.positions[frame, j], frame)[0]
            assert out["segmentation"][k, int(row), int(col)] == spec.segmentation_id(name), name
    assert set(np.unique(out["segmentation"])) == {0, 1, 2, 3}
    cam = np.asarray(spec.camera.position)
    for j, name in enumerate(states.names):
        d = out["depth"][0][out["segmentation"][0] == spec.segmentation_id(name)]
        true = np.linalg.norm(states.positions[0, j] - cam)
        assert abs(np.median(d) - true) < 0.25, (name, np.median(d), true)


@pytest.mark.render
def test_same_spec_gives_identical_pixels(lineup, source):
    from datagen.scene.render import SceneRenderer
    spec, states, renderer = lineup
    first = renderer.render(layers=("rgb", "segmentation", "forward_flow"), frames=[2])
    with SceneRenderer(SceneSpec.from_json(spec.to_json()), source=source) as other:
        other.set_states(simulate(spec, source=source))
        second = other.render(layers=("rgb", "segmentation", "forward_flow"), frames=[2])
    for key in first:
        assert np.array_equal(first[key], second[key]), key


@pytest.mark.render
def test_hidden_removes_pixels_and_shadow_shadow_only_keeps_shadow(lineup, source):
    from datagen.scene.render import SceneRenderer
    spec, states, renderer = lineup
    name, sid = "sphere_b", spec.segmentation_id("sphere_b")
    a = renderer.render(layers=("rgb", "segmentation"), frames=[0])
    c = renderer.render({name: "hidden"}, layers=("rgb", "segmentation"), frames=[0])
    e = renderer.render({name: "shadow_only"}, layers=("rgb", "segmentation"), frames=[0])
    silhouette = a["segmentation"][0] == sid
    assert silhouette.sum() > 20
    assert not (c["segmentation"] == sid).any() and not (e["segmentation"] == sid).any()

    # C is the world without the object: identical to a scene built without it.
    without = dataclasses.replace(spec, objects=[o for o in spec.objects if o.name != name])
    with SceneRenderer(without, source=source) as other:
        other.set_states(simulate(without, source=source))
        ref = other.render(layers=("rgb",), frames=[0])
    diff_c = np.abs(c["rgb"][0].astype(int) - ref["rgb"][0].astype(int)).max(-1)
    assert diff_c.mean() < 0.5 and (diff_c > 24).mean() < 0.003, "hidden == absent (up to noise)"

    # E keeps the shadow: it differs from C outside the silhouette, where C lost the shadow ...
    lum = lambda x: x[0].astype(float).mean(-1)  # noqa: E731
    darker = (lum(c["rgb"]) - lum(e["rgb"])) > 12
    assert (darker & ~silhouette).sum() > 10, "shadow-only object still casts a shadow"
    # ... and matches A there: the shadow is the same one.
    outside = ~_dilate(silhouette, 1)
    diff_e = np.abs(e["rgb"][0].astype(int) - a["rgb"][0].astype(int)).max(-1)
    assert diff_e[outside].mean() < 0.5, "A and E agree away from the object itself"


def _dilate(mask: np.ndarray, r: int) -> np.ndarray:
    out = mask.copy()
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            out |= np.roll(np.roll(mask, dy, 0), dx, 1)
    return out


@pytest.mark.render
def test_flow_follows_motion(source):
    """Objects resting and a static camera: no flow; a camera panning: the image slides sideways;
    an object sliding: forward and backward flow point opposite ways along its motion."""
    from datagen.scene.render import SceneRenderer
    spec = _lineup(frames=4)
    spec.objects = [dataclasses.replace(o, position=(o.position[0], o.position[1], 0.5)) for o in spec.objects]
    rest = simulate(dataclasses.replace(spec, frames=30), source=source)
    spec.objects = [dataclasses.replace(o, position=tuple(rest.positions[-1, i]), quaternion=tuple(rest.quaternions[-1, i]))
                    for i, o in enumerate(spec.objects)]
    with SceneRenderer(spec, source=source) as r:
        r.set_states(simulate(spec, source=source))
        still = r.render(layers=("forward_flow", "backward_flow"), frames=[1])
    assert np.abs(still["forward_flow"]).max() < 0.05 and np.abs(still["backward_flow"]).max() < 0.05

    spec.camera = CameraSpec(position=(0, -3.2, 1.2), look_at=(0, 0, 0.1), motion="pan", amount=0.2)
    with SceneRenderer(spec, source=source) as r:
        r.set_states(simulate(spec, source=source))
        pan = r.render(layers=("forward_flow", "backward_flow"), frames=[1])
    fwd, bwd = pan["forward_flow"][0, ..., 1], pan["backward_flow"][0, ..., 1]
    assert np.median(np.abs(fwd)) > 0.5 and np.median(fwd * bwd) < 0

    spec.camera = CameraSpec(position=(0, -3.2, 1.2), look_at=(0, 0, 0.1))
    spec.objects[1] = dataclasses.replace(spec.objects[1], velocity=(1.5, 0.0, 0.0))  # the sphere rolls right
    with SceneRenderer(spec, source=source) as r:
        states = simulate(spec, source=source)
        r.set_states(states)
        out = r.render(layers=("forward_flow", "backward_flow", "segmentation"), frames=[1])
    ball = out["segmentation"][0] == spec.segmentation_id("sphere_b")
    assert np.median(out["forward_flow"][0, ..., 1][ball]) > 1.0, "moving right: forward flow to the right"
    assert np.median(out["backward_flow"][0, ..., 1][ball]) < -1.0, "and backward flow to the left"


@pytest.mark.render
def test_every_asset_loads_simulates_and_renders(source):
    from datagen.scene.render import SceneRenderer
    ids = source.all_asset_ids
    assert len(ids) >= 16
    cols = 5
    objects = [ObjectSpec(f"{a}_{i}", a, MaterialSpec("plastic", (0.7, 0.6, 0.5)),
                          position=((i % cols - (cols - 1) / 2) * 1.3, (i // cols) * 1.3, 0.6),
                          quaternion=(math.cos(0.3), 0, 0, math.sin(0.3)))
               for i, a in enumerate(ids)]
    rows = (len(ids) + cols - 1) // cols
    spec = SceneSpec(objects=objects, frames=12, fps=12,
                     camera=CameraSpec(position=(0, -7.5, 8.5), look_at=(0, (rows - 1) * 0.65, 0), focal_length=30),
                     render=RenderSpec(width=192, height=128, spp=2, threads=2))
    states = simulate(spec, source=source)
    assert np.isfinite(states.positions).all()
    assert (np.linalg.norm(states.velocities[-1], axis=-1) < 3).all(), "nothing explodes"
    with SceneRenderer(spec, source=source) as r:
        r.set_states(states)
        out = r.render(layers=("rgb", "segmentation"), frames=[11])
    seen = set(np.unique(out["segmentation"][0]).tolist())
    missing = [o.asset_id for i, o in enumerate(objects) if i + 1 not in seen]
    assert not missing, f"not visible in the render: {missing}"
    assert out["rgb"].std() > 10


@pytest.mark.render
def test_older_renderer_refuses_after_reset(source):
    from datagen.scene.render import SceneRenderer
    spec = _lineup(frames=1)
    first = SceneRenderer(spec, source=source)
    with SceneRenderer(spec, source=source):
        with pytest.raises(RuntimeError, match="newer SceneRenderer"):
            first.render(layers=("segmentation",))
    first.close()
