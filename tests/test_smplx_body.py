"""SMPL-X body path on a random model file with the real format (the real one is licence-restricted)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
smplx = pytest.importorskip("smplx")

from datagen.core.rotations import from_axis_angle  # noqa: E402
from datagen.humans import smplx_body as sb  # noqa: E402
from smplx_stand_in import _rest_joints as rest_joints, write_random_smplx_model  # noqa: E402


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("smplx_models")
    write_random_smplx_model(d / "SMPLX_NEUTRAL.npz", seed=0)
    return d


@pytest.fixture(scope="module")
def body(model_dir):
    return sb.SmplxBody(model_dir, batch_size=4)


@pytest.fixture(scope="module")
def motion():
    return sb.procedural_motion(6, fps=30.0, seed=1)


def test_random_model_has_the_real_keys_and_shapes(model_dir):
    with np.load(model_dir / "SMPLX_NEUTRAL.npz") as d:
        for key, shape in sb.MODEL_KEYS.items():
            assert d[key].shape == shape, key
        f, v = d["f"], d["v_template"]
        assert f.min() == 0 and f.max() == sb.NUM_VERTICES - 1
        assert len(np.unique(f)) == sb.NUM_VERTICES  # every vertex is used
        np.testing.assert_allclose(d["J_regressor"].sum(axis=1), 1.0, atol=1e-5)
        np.testing.assert_allclose(d["weights"].sum(axis=1), 1.0, atol=1e-5)
        assert (d["J_regressor"] >= 0).all() and (d["weights"] >= 0).all()
        parents = d["kintree_table"][0].copy()
        parents[0] = -1
        np.testing.assert_array_equal(parents, sb.PARENTS)
        np.testing.assert_array_equal(d["kintree_table"][1], np.arange(55))
        height = v[:, 1].max() - v[:, 1].min()
        assert 1.5 < height < 1.9  # a ~1.7 m body, Y up in model space
        joints = d["J_regressor"] @ v
        assert np.linalg.norm(joints - rest_joints(), axis=1).mean() < 0.01
        assert (d["lmk_faces_idx"] < sb.NUM_FACES).all() and (d["dynamic_lmk_faces_idx"] < sb.NUM_FACES).all()


def test_random_model_is_deterministic(tmp_path, model_dir):
    again = write_random_smplx_model(tmp_path, seed=0)  # a folder: SMPLX_NEUTRAL.npz inside
    assert again.name == "SMPLX_NEUTRAL.npz"
    assert not list(tmp_path.glob("*.tmp"))
    with np.load(again) as a, np.load(model_dir / "SMPLX_NEUTRAL.npz") as b:
        for key in sb.MODEL_KEYS:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_smplx_package_loads_the_random_model(model_dir):
    for model in (smplx.SMPLX(str(model_dir), ext="npz", use_pca=False),  # folder + gender
                  smplx.create(str(model_dir / "SMPLX_NEUTRAL.npz"), ext="npz")):  # the file itself
        with torch.no_grad():
            out = model()
        assert out.vertices.shape == (1, sb.NUM_VERTICES, 3)
        assert torch.isfinite(out.vertices).all()
        assert model.faces.shape == (sb.NUM_FACES, 3) and model.J_regressor.shape == (55, sb.NUM_VERTICES)


def test_smplx_create_folder_layout(tmp_path, model_dir):
    (tmp_path / "smplx").mkdir()
    (tmp_path / "smplx" / "SMPLX_NEUTRAL.npz").symlink_to(model_dir / "SMPLX_NEUTRAL.npz")
    model = smplx.create(str(tmp_path), model_type="smplx", gender="neutral", ext="npz", use_pca=False)
    assert model.get_num_verts() == sb.NUM_VERTICES
    # SmplxBody finds the file in smplx.create's layout too, or takes the file itself
    assert sb.SmplxBody(tmp_path).path.name == "SMPLX_NEUTRAL.npz"


def test_vertices_shape_finite_world_z_up(body, motion):
    v = body.vertices(motion)
    assert v.shape == (motion.frames, sb.NUM_VERTICES, 3) and v.dtype == np.float32
    assert np.isfinite(v).all()
    assert body.faces.shape == (sb.NUM_FACES, 3) and body.faces.max() == sb.NUM_VERTICES - 1
    extent = v.max(axis=1) - v.min(axis=1)
    assert (extent[:, 2] > 1.4).all() and (extent[:, 2] > extent[:, 0]).all()  # standing, Z up
    assert abs(v[..., 2].min()) < 0.1  # feet near the floor
    np.testing.assert_array_equal(v, body.vertices(motion))  # deterministic
    # 6 frames in batches of 4: the padded last batch gives the same frames as a lone run
    np.testing.assert_allclose(v[4:], body.vertices(sb.sample_motion(motion, np.array([4.0, 5.0]))), atol=1e-5)


def test_root_follows_trans(body, motion):
    shifted = sb.AmassMotion(**{**motion.__dict__, "trans": motion.trans + (1.0, 0.0, 0.0)})
    v0, v1 = body.vertices(motion), body.vertices(shifted)
    np.testing.assert_allclose(v1 - v0, np.broadcast_to((1.0, 0.0, 0.0), v0.shape), atol=1e-4)
    j = body.joints(motion)
    assert j.shape == (motion.frames, 55, 3)
    # the root rotates about the pelvis joint, so pelvis - trans is the same in every frame
    pelvis = j[:, 0] - motion.trans
    np.testing.assert_allclose(pelvis, np.broadcast_to(pelvis[0], pelvis.shape), atol=1e-4)


def _angle(a, b):
    qa, qb = from_axis_angle(a), from_axis_angle(b)
    return 2 * np.arccos(np.clip(np.abs(np.sum(qa * qb, axis=-1)), 0, 1))


def test_sample_motion(motion):
    same = sb.sample_motion(motion, np.arange(motion.frames))
    np.testing.assert_array_equal(same.full_poses(), motion.full_poses())
    np.testing.assert_array_equal(same.trans, motion.trans)
    half = sb.sample_motion(motion, np.array([0.5, 2.5, -3.0, 99.0]))
    np.testing.assert_allclose(half.trans[0], (motion.trans[0] + motion.trans[1]) / 2)
    rot, mid = motion.rotations(), half.rotations()
    for k, i in ((0, 0), (1, 2)):
        d_ab = _angle(rot[i], rot[i + 1])
        np.testing.assert_allclose(_angle(rot[i], mid[k]), d_ab / 2, atol=1e-6)
        np.testing.assert_allclose(_angle(rot[i + 1], mid[k]), d_ab / 2, atol=1e-6)
    np.testing.assert_array_equal(half.rotations()[2], rot[0])  # clamped
    np.testing.assert_array_equal(half.rotations()[3], rot[-1])
    assert half.frames == 4 and half.source_frames.tolist() == [0.5, 2.5, 0.0, 5.0]


def test_write_load_roundtrip_and_poses_layout(tmp_path, body, motion):
    split = sb.load_amass_motion(sb.write_amass_motion(tmp_path / "split.npz", motion, layout="split"))
    poses = sb.load_amass_motion(sb.write_amass_motion(tmp_path / "poses.npz", motion, layout="poses"))
    with np.load(tmp_path / "poses.npz") as d:
        assert "pose_body" not in d.files and d["poses"].shape == (motion.frames, 165)
    for m in (split, poses):
        assert m.fps == 30.0 and m.gender == "neutral"
        np.testing.assert_array_equal(m.betas, motion.betas)
        for name in ("trans", "root_orient", "pose_body", "pose_hand", "pose_jaw", "pose_eye"):
            np.testing.assert_array_equal(getattr(m, name), getattr(motion, name), err_msg=name)
    np.testing.assert_array_equal(body.vertices(split), body.vertices(poses))


def _write(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_malformed_motion_files(tmp_path, motion):
    good = dict(trans=motion.trans, root_orient=motion.root_orient, pose_body=motion.pose_body,
                betas=motion.betas, mocap_frame_rate=np.array(30.0), gender=np.array("female"))
    m = sb.load_amass_motion(_write(tmp_path / "ok.npz", **{**good, "mocap_framerate": good.pop("mocap_frame_rate")}))
    assert m.gender == "female" and m.fps == 30.0 and (m.pose_hand == 0).all()
    cases = {
        "missing key 'pose_body'": {k: v for k, v in good.items() if k != "pose_body"},
        "missing key 'trans'": {k: v for k, v in good.items() if k != "trans"},
        "mocap_frame_rate": {k: v for k, v in good.items() if k != "mocap_frame_rate"},
        "pose_body contains NaN": {**good, "pose_body": np.where(np.arange(63) == 5, np.nan, motion.pose_body)},
        "pose_body has shape (6, 60); expected (T, 63)": {**good, "pose_body": motion.pose_body[:, :60]},
        "root_orient has 5 frames but trans has 6": {**good, "root_orient": motion.root_orient[:5]},
        "SMPL+H G layout": {k: v for k, v in good.items() if k not in ("root_orient", "pose_body")}
        | {"poses": np.zeros((6, 156))},
        "betas has shape": {**good, "betas": np.zeros((2, 3, 4))},
    }
    for i, (message, arrays) in enumerate(cases.items()):
        path = _write(tmp_path / f"bad{i}.npz", **arrays)
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("+", r"\+")) as e:
            sb.load_amass_motion(path)
        assert str(path) in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ValueError, match="pose_hand has shape"):
        sb.AmassMotion(trans=motion.trans, root_orient=motion.root_orient, pose_body=motion.pose_body,
                       pose_hand=np.zeros((6, 45)))


def test_missing_model_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        sb.SmplxBody(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="no SMPLX_FEMALE.npz"):
        sb.SmplxBody(tmp_path, gender="female")
    with pytest.raises(FileNotFoundError):
        sb.load_amass_motion(tmp_path / "missing.npz")
    bad = _write(tmp_path / "SMPLX_NEUTRAL.npz", v_template=np.zeros((10, 3)))
    with pytest.raises(ValueError, match="missing keys"):
        sb.SmplxBody(bad)


# -- the published layouts, quirks included ---------------------------------------------------------

def _stageii(motion, **changes):
    """An AMASS SMPL-X G file exactly as MoSh++ writes it (``*_stageii.npz``): every key, the marker
    fields (``markers_latent_vids`` a pickled dict), numpy string scalars, both pose layouts."""
    return {"gender": np.array("male"), "surface_model_type": np.array("smplx"),
            "mocap_frame_rate": np.array(120.0), "mocap_time_length": np.array(motion.frames / 120.0),
            "markers_latent": np.zeros((3, 3)), "latent_labels": np.array(["C7", "CLAV", "LFHD"]),
            "markers_latent_vids": np.array({"C7": 3832, "CLAV": 5533, "LFHD": 707}, dtype=object),
            "trans": motion.trans, "poses": motion.full_poses(), "betas": np.linspace(-1, 1, 16),
            "num_betas": np.array(16), "root_orient": motion.root_orient, "pose_body": motion.pose_body,
            "pose_hand": motion.pose_hand, "pose_jaw": motion.pose_jaw, "pose_eye": motion.pose_eye, **changes}


def test_amass_smplx_g_stageii_file(tmp_path, motion):
    path = _write(tmp_path / "B1_stageii.npz", **_stageii(motion))
    m = sb.load_amass_motion(path)  # the pickled dict is never read (allow_pickle=False throughout)
    assert m.gender == "male" and m.fps == 120.0 and m.betas.shape == (16,)
    np.testing.assert_array_equal(m.full_poses(), motion.full_poses())
    # gender as a bytes scalar (AMASS's older files: dtype |S6), and as a one-element array
    for gender in (np.array(b"female"), np.array([b"female"]), np.array(["female"])):
        assert sb.load_amass_motion(_write(tmp_path / "g.npz", **_stageii(motion, gender=gender))).gender == "female"
    for bad, message in (({"gender": np.array("robot")}, "gender='robot'"),
                         ({"surface_model_type": np.array("smplh")}, "surface_model_type is 'smplh'")):
        path = _write(tmp_path / "bad.npz", **_stageii(motion, **bad))
        with pytest.raises(ValueError, match=message) as e:
            sb.load_amass_motion(path)
        assert str(path) in str(e.value)


def test_amass_smplh_g_file_is_refused_in_one_line(tmp_path):
    """AMASS's SMPL+H G release, as its sample file has it: poses (T, 156), mocap_framerate, gender as
    bytes, dmpls and markers."""
    path = _write(tmp_path / "01_01_poses.npz", poses=np.zeros((5, 156)), gender=np.array(b"female"),
                  mocap_framerate=np.array(120.0), betas=np.zeros(16), marker_data=np.zeros((5, 4, 3)),
                  dmpls=np.zeros((5, 8)), marker_labels=np.array([b"C7", b"CLAV", b"LFHD", b"RFHD"]),
                  trans=np.zeros((5, 3)))
    with pytest.raises(ValueError, match="SMPL\\+H G layout: use its SMPL-X G release") as e:
        sb.load_amass_motion(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_smplx_v11_model_file_and_amass_betas(tmp_path, model_dir, motion):
    """The v1.1 / 2020 model layout (300 + 100 components and the release's extra keys, pickled dicts
    and a key named allow_pickle included): loads without pickle, and AMASS's 16 betas all count; a
    v1.0 file keeps 10 (its next 10 components are expressions)."""
    v11 = write_random_smplx_model(tmp_path / "SMPLX_MALE.npz", seed=0, gender="MALE", release="1.1")
    with np.load(v11) as d:
        assert d["shapedirs"].shape == (sb.NUM_VERTICES, 3, 400) and "allow_pickle" in d.files
        with pytest.raises(ValueError):
            d["joint2num"]  # the release's pickled dict
    body11 = sb.SmplxBody(tmp_path, gender="male", batch_size=2)
    with np.load(sb.safe_model_npz(body11.path)) as d:
        assert sorted(d.files) == sorted(sb.MODEL_KEYS)  # only what smplx reads
    body10 = sb.SmplxBody(model_dir, batch_size=2)
    assert body11.num_betas == 16 and body10.num_betas == 10
    one = sb.sample_motion(motion, np.array([0.0, 1.0]))
    one, shaped = (sb.AmassMotion(**{**one.__dict__, "betas": betas}) for betas in (np.zeros(16), np.eye(16)[12] * 3))
    assert np.abs(body11.vertices(shaped) - body11.vertices(one)).max() > 1e-3  # beta 12 shapes the body
    np.testing.assert_array_equal(body10.vertices(shaped), body10.vertices(one))  # ... and not an expression
