"""Human removal: the HUMOTO-format loader on our fixtures (good and malformed files), the anny
retarget, object modes and the counterfactual physics, and one generated pair end to end."""
from __future__ import annotations

import json
import pickle
import shutil

import numpy as np
import pytest

from datagen.humans import fixtures, humoto
from datagen.humans import skeleton as sk


@pytest.fixture(scope="module")
def fixture_root(tmp_path_factory):
    return fixtures.write_fixtures(tmp_path_factory.mktemp("humoto"))


def _copy(root, tmp_path, name="lift_box"):
    dst = tmp_path / "h"
    shutil.copytree(root, dst)
    return dst, dst / name / f"{name}.pkl"


def _edit(pkl, change):
    data = pickle.loads(pkl.read_bytes())
    change(data)
    pkl.write_bytes(pickle.dumps(data))


# -- loader ----------------------------------------------------------------------------------------

def test_fixtures_load_in_the_published_layout(fixture_root):
    assert humoto.list_sequences(fixture_root) == sorted(fixtures.SCENARIOS)
    seq = humoto.load_sequence(fixture_root / "lift_box")
    assert seq.frames == 90 and len(seq.bones) == 65 and set(sk.REQUIRED) <= set(seq.bones)
    assert seq.objects == ["table", "cardboard_box"]
    assert seq.meshes["table"] == fixture_root / "objects" / "table.obj"
    assert "cardboard box" in seq.text
    assert np.allclose(np.linalg.norm(seq.bone_quaternions, axis=-1), 1.0)
    raw = pickle.loads((fixture_root / "lift_box" / "lift_box.pkl").read_bytes())
    assert set(raw) == {"armature", "objects"} and len(raw["armature"][0]["mixamorig:Hips"]) == 7
    # the character the channels are relative to, where HUMOTO keeps it (tests/test_humoto_format.py)
    assert (fixture_root / "human_model" / "human_model_up_bone_zup.json").is_file()
    # object poses hold the bounding-box centre; the meshes are centred on it
    import trimesh
    mesh = trimesh.load(seq.meshes["cardboard_box"], force="mesh")
    assert np.allclose(mesh.bounds.sum(0) / 2, 0.0, atol=1e-6)
    # the box starts resting on the table top
    assert seq.object_positions[0, 1, 2] - mesh.extents[2] / 2 == pytest.approx(fixtures.TABLE_TOP, abs=1e-4)


@pytest.mark.parametrize("change, message", [
    (lambda d: [f.pop("mixamorig:LeftHand") for f in d["armature"]], "missing bones"),
    (lambda d: d["armature"][3].__setitem__("mixamorig:Spine", [1, 0, 0, 0, 0, 0]), "has 6 numbers; expected 7"),
    (lambda d: d["armature"][5]["mixamorig:Head"].__setitem__(4, float("nan")), "NaN"),
    (lambda d: d["objects"]["table"].pop(), "one pose per armature frame"),
    (lambda d: d["armature"][2].pop("mixamorig:LeftHandIndex4"), "different bone set"),
    (lambda d: d["objects"].__setitem__("spaceship", d["objects"]["table"]), "unknown object 'spaceship'"),
    (lambda d: d.pop("objects"), "'armature' and 'objects'"),
])
def test_malformed_sequences_fail_in_one_line(fixture_root, tmp_path, change, message):
    root, pkl = _copy(fixture_root, tmp_path)
    _edit(pkl, change)
    with pytest.raises(humoto.SequenceError, match=message) as e:
        humoto.load_sequence(root / "lift_box")
    assert "\n" not in str(e.value) and str(pkl) in str(e.value)


def test_missing_files_are_named(fixture_root, tmp_path):
    root, _ = _copy(fixture_root, tmp_path)
    (root / "objects" / "table.obj").unlink()
    with pytest.raises(humoto.SequenceError, match="no table.obj"):
        humoto.load_sequence(root / "lift_box")
    with pytest.raises(FileNotFoundError, match="nowhere.pkl"):
        humoto.load_sequence(root / "nowhere")
    with pytest.raises(FileNotFoundError, match="no HUMOTO sequences"):
        humoto.list_sequences(root / "objects")


def test_resampling(fixture_root):
    seq = humoto.load_sequence(fixture_root / "carry_mug")
    whole = humoto.resample(seq, 9, "whole")
    assert whole.frames == 9 and np.allclose(whole.source_frames, np.linspace(0, 89, 9))
    assert np.allclose(whole.bone_positions[[0, -1]], seq.bone_positions[[0, -1]])
    real = humoto.resample(seq, 10, "fps", fps=15)
    assert np.allclose(real.source_frames, np.arange(10) * 2)  # 30 fps source at 15 fps
    assert np.allclose(real.bone_positions, seq.bone_positions[::2][:10])
    half = humoto.resample(seq, 3, "fps", fps=60)  # half frames interpolate
    assert np.allclose(half.bone_positions[1], (seq.bone_positions[0] + seq.bone_positions[1]) / 2)
    q = humoto.slerp(np.array([1.0, 0, 0, 0]), np.array([0.0, 0, 0, 1]), np.array(0.5))
    assert np.allclose(q, [np.sqrt(0.5), 0, 0, np.sqrt(0.5)])
    with pytest.raises(ValueError, match="humoto.resample"):
        humoto.resample(seq, 9, "random")


# -- body --------------------------------------------------------------------------------------------

def test_retarget_follows_the_source_skeleton(fixture_root):
    from datagen.humans.anny_body import anny_model, rest_pose, retarget, skin

    seq = humoto.resample(humoto.load_sequence(fixture_root / "lift_box"), 12)
    source = seq.heads()
    model = anny_model()
    core = [sk.INDEX[b] for b in model.bone_labels]
    # the fixture skeleton is anny's default body: joints land on the source's
    poses, heads = retarget(source, rest_pose(model, {}), model.bone_labels)
    assert np.abs(heads - source[:, core]).max() < 6e-3
    vertices = skin(model, {}, poses)
    assert vertices.shape == (12, 13718, 3) and np.isfinite(vertices).all()
    assert vertices[..., 2].min() > -0.05  # feet on the floor, not through it
    # another body shape: bone directions still follow the source, positions within proportions; the
    # legs reach the source's ankles (IK), so planted feet stay planted on any body
    other = {"height": 0.9, "weight": 0.8, "gender": 0.0}
    poses2, heads2 = retarget(source, rest_pose(model, other), model.bone_labels)
    for side in ("Left", "Right"):
        k, b = model.bone_labels.index(sk.P + side + "Foot"), sk.INDEX[sk.P + side + "Foot"]
        assert np.abs(heads2[:, k, :2] - source[:, b, :2]).max() < 1e-6
    for bone in ("LeftForeArm", "RightHand", "Spine2"):
        b, p = sk.INDEX[sk.P + bone], sk.INDEX[sk.PARENT[sk.P + bone]]
        k, kp = model.bone_labels.index(sk.P + bone), model.bone_labels.index(sk.PARENT[sk.P + bone])
        d_src = source[:, b] - source[:, p]
        d_dst = heads2[:, k] - heads2[:, kp]
        cos = np.sum(d_src * d_dst, -1) / np.linalg.norm(d_src, axis=-1) / np.linalg.norm(d_dst, axis=-1)
        assert cos.min() > np.cos(np.radians(1.0)), bone
    # the root height follows the leg length, so the taller body still stands on the floor
    low = skin(model, other, poses2)[..., 2].min(axis=1)
    assert (low > -0.08).all() and (low < 0.08).all()


# -- objects under physics ---------------------------------------------------------------------------

def _scene(root, name, **kw):
    from datagen.scene.spec import RenderSpec
    from datagen.void.human_scene import HumotoConfig, build_scene
    from datagen.void.pairs import MaskConfig
    return build_scene(np.random.default_rng(0), str(root / name), RenderSpec(width=64, height=48, spp=1),
                       12, 12, 240, HumotoConfig.defaults(camera_motion="static", **kw), MaskConfig.defaults())


@pytest.mark.parametrize("name, held, resting", [("hold_plate", "plate", None),
                                                 ("carry_mug", "mug", "table"),
                                                 ("lift_box", None, "cardboard_box")])
def test_held_objects_fall_and_resting_objects_stay(fixture_root, name, held, resting):
    from datagen.scene.simulate import simulate

    scene = _scene(fixture_root, name)
    world = simulate(scene.spec)
    if held:
        assert scene.modes[held] == "physics"
        p, _ = world.trajectory(held)
        assert p[0, 2] > 0.7 and p[-1, 2] < 0.15  # released from the hands, it ends on the floor
        f, _ = scene.factual.trajectory(held)
        assert np.allclose(f[0], p[0], atol=1e-6)  # from the recorded frame-0 pose
    if resting:
        assert scene.modes[resting] == "static"
        p, _ = world.trajectory(resting)
        assert np.abs(p - p[0]).max() == 0.0


def test_physics_config_overrides_the_automatic_modes(fixture_root, tmp_path):
    from datagen.scene.simulate import simulate

    config = tmp_path / "physics.json"
    config.write_text(json.dumps({"lift_box": {"physics_objects": ["cardboard_box"], "static_objects": ["table"]}}))
    scene = _scene(fixture_root, "lift_box", physics_config=str(config))
    assert scene.modes == {"table": "static", "cardboard_box": "physics"}
    assert scene.story["mode_source"]["cardboard_box"] == "config"
    p, _ = simulate(scene.spec).trajectory("cardboard_box")
    assert np.abs(p - p[0]).max() < 0.01  # a physics object resting on the table stays on it
    config.write_text(json.dumps({"lift_box": {"physics_objects": ["ghost"]}}))
    with pytest.raises(ValueError, match="ghost"):
        _scene(fixture_root, "lift_box", physics_config=str(config))


# -- the generator ------------------------------------------------------------------------------------

@pytest.mark.render
def test_generator_makes_valid_human_removal_pairs(fixture_root, tmp_path):
    from datagen.runner import load_config, run
    from datagen.dataset.reader import iter_samples
    from datagen.runner.validate import validate

    out = tmp_path / "run"
    cfg = load_config("void_counterfactuals", [
        f"out={out}", "source=humoto", f"humoto.root={fixture_root}", "humoto.sequences=[hold_plate]",
        "num_samples=1", "runner.mode=local", "runner.progress=false", "render.width=64", "render.height=48",
        "render.frames=6", "render.fps=8", "render.spp=2", "humoto.camera_motion=static"])
    assert run(cfg).ok
    assert validate(str(out)) == (1, 0)
    (sample,) = list(iter_samples(str(out)))
    meta = sample["meta"]
    assert meta["source"] == "humoto" and meta["removed"] == ["person"]
    assert meta["removed_ids"] == [meta["object_ids"]["person"]] and meta["affected"] == ["plate"]
    assert meta["mask_config"]["dilation"] == 2  # humoto.mask over void.mask: VOID's HUMOTO recipe
    assert (meta["mask_config"]["rule"], meta["mask_config"]["pixel_gamma"]) == ("both", 2.2)
    person = np.isin(sample["input_segmentation"], meta["removed_ids"])
    assert person.any() and not np.isin(sample["target_segmentation"], meta["removed_ids"]).any()
    assert (sample["quadmask"][person] <= 63).all()
    assert (sample["quadmask"][1:] == 127).any()  # the plate falls
    assert "plate" in sample["caption"] and "person" not in sample["caption"]


@pytest.mark.render
def test_generator_with_an_smplx_body(fixture_root, tmp_path):
    """The SMPL-X path end to end, on a random model file of the real shapes and AMASS-style motion."""
    from datagen.humans import smplx_body
    from datagen.runner import load_config, run
    from datagen.dataset.reader import iter_samples
    from datagen.runner.validate import validate

    from smplx_stand_in import write_random_smplx_model

    (tmp_path / "models").mkdir()
    model = write_random_smplx_model(tmp_path / "models")
    assert model.name == "SMPLX_NEUTRAL.npz"
    motions = tmp_path / "motion"
    motions.mkdir()
    smplx_body.write_amass_motion(motions / "hold_plate.npz", smplx_body.procedural_motion(40, fps=30.0))
    out = tmp_path / "run"
    cfg = load_config("void_counterfactuals", [
        f"out={out}", "source=humoto", f"humoto.root={fixture_root}", "humoto.sequences=[hold_plate]",
        "humoto.body=smplx", f"humoto.smplx.model={model.parent}", f"humoto.smplx.motion={motions}",
        "num_samples=1", "runner.mode=local", "runner.progress=false", "render.width=64", "render.height=48",
        "render.frames=5", "render.fps=8", "render.spp=2", "humoto.camera_motion=static"])
    assert run(cfg).ok
    assert validate(str(out)) == (1, 0)
    (sample,) = list(iter_samples(str(out)))
    assert sample["meta"]["scene"]["bodies"][0]["model"] == "smplx"
    assert np.isin(sample["input_segmentation"], sample["meta"]["removed_ids"]).any()
    bad = tmp_path / "missing"
    cfg = load_config("void_counterfactuals", [
        f"out={tmp_path / 'run2'}", "source=humoto", f"humoto.root={fixture_root}", "humoto.body=smplx",
        f"humoto.smplx.model={bad}", f"humoto.smplx.motion={motions}", "num_samples=1", "runner.mode=local",
        "runner.progress=false", "runner.sample_retries=0", "render.width=64", "render.height=48", "render.frames=5"])
    from datagen.runner.config import ConfigError
    with pytest.raises(ConfigError, match="humoto.smplx.model not found"):
        run(cfg)  # before any work: nothing written
    assert not (tmp_path / "run2").exists()


# -- what real recordings do that the fixtures do not ---------------------------------------------------

def test_sequences_without_leaf_and_finger_bones_retarget(fixture_root, tmp_path):
    """Many Mixamo exports drop the *_End and finger bones: the loader accepts that, the retarget
    keeps the hands and head turning with their parents."""
    from datagen.humans.anny_body import anny_model, rest_pose, retarget

    optional = [b for b in sk.BONES if b not in sk.REQUIRED]
    root, pkl = _copy(fixture_root, tmp_path)
    _edit(pkl, lambda d: [f.pop(b) for f in d["armature"] for b in optional])
    seq = humoto.resample(humoto.load_sequence(root / "lift_box"), 6)
    assert len(seq.bones) == len(sk.REQUIRED) and np.isnan(seq.heads()).any()
    model = anny_model()
    poses, heads = retarget(seq.heads(), rest_pose(model, {}), model.bone_labels)
    assert np.isfinite(poses).all() and np.isfinite(heads).all()
    core = [sk.INDEX[b] for b in model.bone_labels]
    full = humoto.resample(humoto.load_sequence(fixture_root / "lift_box"), 6).heads()
    required = [k for k, b in enumerate(model.bone_labels) if b in sk.REQUIRED]
    assert np.abs(heads[:, required] - full[:, core][:, required]).max() < 5e-3


def test_walls_stand_behind_the_action_whatever_the_camera(fixture_root):
    """The back wall faces the camera and no camera position of any motion is outside the walls."""
    from datagen.void.human_scene import _place_walls
    from datagen.scene.build import WALL_THICKNESS
    from datagen.scene.spec import CameraSpec, EnvironmentSpec

    points = np.random.default_rng(0).uniform(-0.6, 0.6, (200, 3)) + [1.0, -2.0, 0.8]
    for azimuth in np.linspace(0, 2 * np.pi, 9)[:-1]:
        for motion, amount in (("static", 0.0), ("orbit", 0.5), ("orbit", -0.5), ("zoom", 0.3)):
            look = np.array([1.0, -2.0, 0.8])
            cam = CameraSpec(position=tuple(look + 4.0 * np.array([np.cos(azimuth), np.sin(azimuth), 0.3])),
                             look_at=tuple(look), motion=motion, amount=amount)
            env = EnvironmentSpec(walls=2)
            _place_walls(env, cam, points, 12, 0.6)
            r, c = env.wall_rotation, np.array(env.wall_center)
            normals = [np.array([-np.sin(r), np.cos(r)]), np.array([-np.cos(r), -np.sin(r)])]
            assert normals[0] @ np.array([np.cos(azimuth), np.sin(azimuth)]) == pytest.approx(-1.0)
            inner = env.wall_distance - WALL_THICKNESS / 2
            for n in normals:
                assert ((points[:, :2] - c) @ n).max() < inner
                assert max((np.asarray(p[:2]) - c) @ n for p, _, _ in cam.poses(12)) < inner


def test_capture_noise_on_untouched_objects_is_not_motion(fixture_root, tmp_path):
    """A table that jitters by a fraction of a millimetre in the recording was not moved: it is
    held still in both worlds, and the pair validates (static objects never move)."""
    root, pkl = _copy(fixture_root, tmp_path)
    jitter = np.random.default_rng(1).normal(0, 2e-4, (90, 3))
    _edit(pkl, lambda d: [p.__setitem__(slice(4, 7), list(np.add(p[4:7], jitter[t])))
                          for t, p in enumerate(d["objects"]["table"])])
    scene = _scene(root, "lift_box")
    assert scene.story["still"] == ["table"]
    p, _ = scene.factual.trajectory("table")
    assert np.abs(p - p[0]).max() == 0.0
    box, _ = scene.factual.trajectory("cardboard_box")
    assert np.abs(box - box[0]).max() > 0.5  # what the person carries still moves


def test_object_kinds_and_automatic_modes():
    from datagen.humans.objects import kind
    from datagen.void.human_scene import automatic_modes

    assert kind("coffee_table")[0] == "furniture" and kind("tablet")[0] != "furniture"
    assert kind("Cardboard Boxes")[0] == "container" and kind("plates")[0] == "tableware"

    def box(lo, hi):
        return np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])], float)
    vertices = {"table": box((-0.5, -0.5, 0), (0.5, 0.5, 0.7)), "plate": box((-0.1, -0.1, 0.7), (0.1, 0.1, 0.72)),
                "cup": box((-0.03, -0.03, 0.72), (0.03, 0.03, 0.8)), "tray": box((1, 1, 1.0), (1.3, 1.3, 1.02)),
                "mug": box((1.1, 1.1, 1.02), (1.2, 1.2, 1.1))}
    modes = automatic_modes(list(vertices), vertices)
    # a cup on a plate on a table stays; a mug on a held tray falls with it
    assert modes == {"table": "static", "plate": "static", "cup": "static", "tray": "physics", "mug": "physics"}


def test_angular_velocity_of_a_recorded_turn():
    from datagen.core.rotations import angular_velocity

    angle = np.linspace(0, 1.5, 16)  # 0.1 rad per frame about z
    q = np.stack([np.cos(angle / 2), 0 * angle, 0 * angle, np.sin(angle / 2)], -1)[:, None]
    q[5] *= -1  # the same rotation, the other sign
    w = angular_velocity(q, fps=10.0)
    assert np.allclose(w[..., 2], 1.0, atol=1e-3) and np.allclose(w[..., :2], 0.0)


@pytest.mark.parametrize("override, message", [
    ("humoto.sequences=lift_box", "humoto.sequences must be a list"),
    ("humoto.sequences=[nowhere]", "not under"),
    ("humoto.camera_motion=dolly", "humoto.camera_motion='dolly'"),
    ("humoto.body=smplx", "needs humoto.smplx.model"),
    ("humoto.resample=random", "humoto.resample"),
    ("humoto.mask.rule=guess", "rule=.guess."),
])
def test_bad_humoto_options_fail_before_any_work(fixture_root, tmp_path, override, message):
    from datagen.runner import load_config, run
    from datagen.runner.config import ConfigError

    cfg = load_config("void_counterfactuals", [f"out={tmp_path / 'run'}", "source=humoto",
                                               f"humoto.root={fixture_root}", "runner.mode=local", override])
    with pytest.raises(ConfigError, match=message) as e:
        run(cfg)
    assert "\n" not in str(e.value) and not (tmp_path / "run").exists()


def test_physics_config_must_have_voids_shape(fixture_root, tmp_path):
    from datagen.void.human_scene import read_physics_config

    path = tmp_path / "physics.json"
    for text, message in (("[1, 2]", "expected"), ('{"lift_box": {"physics_objects": "mug"}}', "must be a list"),
                          ('{"lift_box": 3}', "expected"), ("{oops", "not valid JSON")):
        path.write_text(text)
        with pytest.raises(ValueError, match=message):
            read_physics_config(str(path))
    path.write_text('{"lift_box": {"physics_objects": ["cardboard_box"]}, "other": null}')
    assert read_physics_config(str(path)) == {"lift_box": {"cardboard_box": "physics"}, "other": {}}
