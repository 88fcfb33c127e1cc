"""HUMOTO files as HUMOTO's own code writes and reads them (github.com/adobe-research/humoto:
``scripts/extract_pk_data.py``, ``utils/load_humoto.py``, ``human_model/human_model.py``): bone values
are Blender pose channels relative to the character's rest matrices, the character JSON sits in
``human_model/``, objects may carry ``.001`` suffixes, live in ``<name>/<name>.obj`` folders or come
embedded in the pickle (``-m``), and the YAML's text is ``short_script``. No renders, no body model."""
from __future__ import annotations

import json
import pickle
import shutil

import numpy as np
import pytest

from datagen.humans import fixtures, humoto
from datagen.humans import skeleton as sk


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return fixtures.write_fixtures(tmp_path_factory.mktemp("humoto"), scenarios=["lift_box", "hold_plate"], frames=20)


def _copy(root, tmp_path):
    dst = tmp_path / "h"
    shutil.copytree(root, dst)
    return dst, dst / "lift_box" / "lift_box.pkl"


def _quat_matrix(q):
    w, x, y, z = q
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def humoto_joints(pkl_data, character_json, frame):
    """HUMOTO's ``HumanModelDifferentiable.compute_joint_positions`` for one frame, transcribed: the
    product over the bone chain of ``rest @ basis @ inv(rest)`` applied to the rest head."""
    bones = character_json["bones"]
    out = {}
    for name in bones:
        chain, b = [], name
        while b:
            chain.append(b)
            b = bones[b]["parent"]
        total = np.eye(4)
        for b in reversed(chain):
            rest = np.array(bones[b]["matrix"])
            basis = np.eye(4)
            if b in pkl_data["armature"][frame]:
                v = np.array(pkl_data["armature"][frame][b], float)
                basis[:3, :3], basis[:3, 3] = _quat_matrix(v[:4] / np.linalg.norm(v[:4])), v[4:]
            total = total @ rest @ basis @ np.linalg.inv(rest)
        out[name] = (total @ np.append(np.array(bones[name]["matrix"])[:3, 3], 1.0))[:3]
    return out


def test_bone_values_are_pose_channels_posed_as_humoto_does(root):
    raw = pickle.loads((root / "lift_box" / "lift_box.pkl").read_bytes())
    character = json.loads((root / "human_model" / "human_model_up_bone_zup.json").read_text())
    assert set(raw) == {"armature", "objects"} and set(character) == {"vertices", "faces", "bones", "bone_influences"}
    # as Blender stores them: connected bones have no translation of their own
    channels = np.array([[f[b] for b in sk.BONES] for f in raw["armature"]])
    assert np.abs(channels[:, 1:, 4:]).max() < 1e-9
    seq = humoto.load_sequence(root / "lift_box")
    for t in (0, 7, 19):
        joints = humoto_joints(raw, character, t)
        np.testing.assert_allclose(seq.bone_positions[t], [joints[b] for b in seq.bones], atol=1e-9)
    # and they are the heads the fixture script animated
    _, heads = fixtures.animate(fixtures.lift_box(20))
    np.testing.assert_allclose(seq.bone_positions, heads, atol=1e-9)


def test_any_rest_layout_mixamo_bone_too(root, tmp_path):
    """A character whose bones point along the chain (Mixamo's own layout, each bone its own rest
    rotation): channels written against it read back to the same world poses, as HUMOTO poses them."""
    dst, pkl = _copy(root, tmp_path)
    rng = np.random.default_rng(0)
    base = fixtures.character()
    rest = {}
    for b, m in base.rest.items():
        q = rng.normal(size=4)
        r = np.eye(4)
        r[:3, :3], r[:3, 3] = _quat_matrix(q / np.linalg.norm(q)), m[:3, 3]
        rest[b] = r
    twisted = humoto.Character(base.path, rest, base.parent)
    seq = humoto.load_sequence(dst / "lift_box")
    world = np.broadcast_to(np.eye(4), (seq.frames, len(seq.bones), 4, 4)).copy()
    # the same motion (rotation from rest W = M @ inv(rest) of the up_bone rig) on the other rest rotations
    world[..., :3, :3] = np.stack([[_quat_matrix(q) @ fixtures.UP_BONE.T @ rest[b][:3, :3]
                                    for q, b in zip(f, seq.bones)] for f in seq.bone_quaternions])
    world[..., :3, 3] = seq.bone_positions
    channels = humoto.pose_channels(world, seq.bones, twisted)
    assert np.abs(channels[:, 1:, 4:]).max() < 1e-9  # still connected
    shutil.rmtree(dst / "human_model")
    humoto.write_character(dst / "human_model" / "human_model_mixamo_bone_zup.json", rest, base.parent)
    raw = pickle.loads(pkl.read_bytes())
    raw["armature"] = [{b: [float(v) for v in channels[t, j]] for j, b in enumerate(seq.bones)}
                       for t in range(seq.frames)]
    pkl.write_bytes(pickle.dumps(raw))
    again = humoto.load_sequence(dst / "lift_box")
    np.testing.assert_allclose(again.bone_positions, seq.bone_positions, atol=1e-9)
    joints = humoto_joints(raw, json.loads((dst / "human_model" / "human_model_mixamo_bone_zup.json").read_text()), 5)
    np.testing.assert_allclose(again.bone_positions[5], [joints[b] for b in again.bones], atol=1e-9)


def test_the_character_is_needed_and_named(root, tmp_path):
    dst, pkl = _copy(root, tmp_path)
    chosen = dst / "human_model" / "human_model_up_bone_zup.json"
    shutil.copy(chosen, dst / "human_model" / "human_model_mixamo_bone_zup.json")
    with pytest.raises(humoto.SequenceError, match="both of") as e:  # HUMOTO's folder has both: which one?
        humoto.load_sequence(dst / "lift_box")
    assert str(dst / "human_model") in str(e.value) and "\n" not in str(e.value)
    assert humoto.load_sequence(dst / "lift_box", character=chosen).frames == 20  # said explicitly
    shutil.rmtree(dst / "human_model")
    with pytest.raises(humoto.SequenceError, match="neither of"):
        humoto.load_sequence(dst / "lift_box")
    bad = tmp_path / "bad.json"
    for text, message in (("{not json", "not a readable JSON"), ('{"vertices": []}', "no 'bones'"),
                          (json.dumps({"bones": {"a": {"matrix": [[1, 0], [0, 1]], "parent": None}}}), "invertible"),
                          (json.dumps({"bones": {"a": {"matrix": np.eye(4).tolist(), "parent": "b"}}}), "not a bone")):
        bad.write_text(text)
        with pytest.raises(humoto.SequenceError, match=message) as e:
            humoto.load_sequence(dst / "lift_box", character=bad)
        assert str(bad) in str(e.value)
    bad.write_text(json.dumps({"bones": {"mixamorig:Hips": {"matrix": np.eye(4).tolist(), "parent": None}}}))
    with pytest.raises(humoto.SequenceError, match="bone 'mixamorig:LeftUpLeg' is not in the character"):
        humoto.load_sequence(dst / "lift_box", character=bad)


def test_object_names_folders_and_embedded_meshes(root, tmp_path):
    """Blender names duplicates ``mug.001`` (HUMOTO's loader uses ``mug``'s mesh); the object folder is
    ``<name>/<name>.obj``; ``extract_pk_data.py -m`` embeds ``object_models`` (numpy arrays) instead."""
    import trimesh

    dst, pkl = _copy(root, tmp_path)
    objects = dst / "objects"
    for obj in ("table", "cardboard_box"):
        (objects / obj).mkdir()
        (objects / f"{obj}.obj").rename(objects / obj / f"{obj}.obj")
    raw = pickle.loads(pkl.read_bytes())
    raw["objects"]["table.001"] = raw["objects"].pop("table")
    pkl.write_bytes(pickle.dumps(raw))
    seq = humoto.load_sequence(dst / "lift_box")
    assert seq.objects == ["cardboard_box", "table.001"]
    assert seq.meshes == {"cardboard_box": objects / "cardboard_box" / "cardboard_box.obj",
                          "table.001": objects / "table" / "table.obj"}
    box = trimesh.load(seq.meshes["cardboard_box"], force="mesh")
    shutil.rmtree(objects)
    raw["object_models"] = {"cardboard_box": {"mesh": (np.asarray(box.vertices, np.float32),
                                                       np.asarray(box.faces, np.int64))}}
    pkl.write_bytes(pickle.dumps(raw))
    with pytest.raises(humoto.SequenceError, match="unknown object 'table.001': no table.obj"):
        humoto.load_sequence(dst / "lift_box")
    raw["objects"].pop("table.001")
    pkl.write_bytes(pickle.dumps(raw))
    seq = humoto.load_sequence(dst / "lift_box")
    embedded = trimesh.load(seq.meshes["cardboard_box"], force="mesh")
    np.testing.assert_allclose(embedded.vertices, box.vertices, atol=1e-6)
    np.testing.assert_array_equal(embedded.faces, box.faces)
    raw["object_models"]["cardboard_box"]["mesh"] = (np.zeros((3, 3)), np.array([[0, 1, 7]]))
    pkl.write_bytes(pickle.dumps(raw))
    with pytest.raises(humoto.SequenceError, match="out of range"):
        humoto.load_sequence(dst / "lift_box")


def test_yaml_text_is_short_script(root, tmp_path):
    dst, _ = _copy(root, tmp_path)
    assert humoto.load_sequence(dst / "hold_plate").text.startswith("A person stands holding a plate")
    (dst / "hold_plate" / "hold_plate.yaml").write_text(
        "long_script: The person walks to the counter, picks up the plate and turns.\n"
        "short_script: Pick up a plate and turn around.\nobjects: [plate]\n")
    assert humoto.load_sequence(dst / "hold_plate").text == "Pick up a plate and turn around."
