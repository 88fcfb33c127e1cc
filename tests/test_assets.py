"""The offline asset library: geometry, physics, Kubric compatibility, reproducible builds."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import trimesh

from datagen.assets.source import SceneLibrary
from datagen.assets import (ASSET_IDS, asset_ids, build_library, create_asset, default_manifest,
                            open_asset_source, recipe_key)
from datagen.assets import builder, shapes
from datagen.kubric_compat import kb

REPO = Path(__file__).resolve().parent.parent
REQUIRED = ("cube", "sphere", "cylinder", "cone", "torus", "capsule", "mug", "bowl", "bottle", "vase",
            "book", "box", "plate", "chair", "table", "shelf", "ball", "domino")
PRESETS = ("rubber", "metal", "plastic", "wood", "ceramic", "glass")
MEMBERS = ["collision_geometry.obj", "data.json", "object.urdf", "visual_geometry.obj"]


@pytest.fixture(scope="session")
def library(tmp_path_factory) -> Path:
    """The whole library, built once per test session into a fresh folder."""
    return build_library(tmp_path_factory.mktemp("assets") / "lib").parent


@pytest.fixture(scope="session")
def manifest(library) -> dict:
    return json.loads((library / "manifest.json").read_text())


def _files(library: Path, aid: str) -> dict[str, bytes]:
    with tarfile.open(library / f"{aid}.tar.gz", "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def _obj(text: str) -> tuple[np.ndarray, list[tuple[str, list[int]]], list[list[int]]]:
    """Vertices, groups (name, face indices) and faces (0-based) of an OBJ text."""
    verts, faces, groups = [], [], []
    for line in text.splitlines():
        if line.startswith("v "):
            verts.append([float(t) for t in line.split()[1:4]])
        elif line.startswith("f "):
            faces.append([int(t.split("/")[0]) - 1 for t in line.split()[1:]])
            if groups:
                groups[-1][1].append(len(faces) - 1)
        elif line.startswith("o "):
            groups.append((line[2:].strip(), []))
    return np.array(verts), groups, faces


def _visual(library, aid) -> trimesh.Trimesh:
    v, _, f = _obj(_files(library, aid)["visual_geometry.obj"].decode())
    return trimesh.Trimesh(v, f, process=False)


def _collision_parts(library, aid) -> list[trimesh.Trimesh]:
    v, groups, f = _obj(_files(library, aid)["collision_geometry.obj"].decode())
    faces = np.array(f)
    parts = []
    for _, idx in groups:
        pf = faces[idx]
        used = np.unique(pf)
        remap = {old: new for new, old in enumerate(used)}
        parts.append(trimesh.Trimesh(v[used], np.vectorize(remap.get)(pf), process=False))
    return parts


def _urdf_inertial(library, aid) -> tuple[float, np.ndarray]:
    root = ET.fromstring(_files(library, aid)["object.urdf"])
    inertial = root.find("link/inertial")
    mass = float(inertial.find("mass").get("value"))
    i = {k: float(v) for k, v in inertial.find("inertia").attrib.items()}
    tensor = np.array([[i["ixx"], i["ixy"], i["ixz"]],
                       [i["ixy"], i["iyy"], i["iyz"]],
                       [i["ixz"], i["iyz"], i["izz"]]])
    return mass, tensor


# -- contents --------------------------------------------------------------------------------------

def test_library_has_every_required_asset(manifest):
    assert set(REQUIRED) <= set(manifest["assets"]) == set(ASSET_IDS)
    assert "data_dir" not in manifest  # Kubric then reads the archives beside the manifest
    for aid, entry in manifest["assets"].items():
        assert entry["asset_type"] == "FileBasedObject"
        kw, md = entry["kwargs"], entry["metadata"]
        assert kw["render_filename"] == "{asset_dir}/visual_geometry.obj"
        assert kw["simulation_filename"] == "{asset_dir}/object.urdf"
        assert 0 <= kw["friction"] <= 1 and 0 <= kw["restitution"] <= 1
        assert md["material_preset"] in PRESETS
        assert md["mass"] == kw["mass"] > 0
        assert md["mass"] == pytest.approx(md["density"] * md["volume"], rel=1e-5)
        assert md["nr_faces"] <= 5000, f"{aid} is too detailed to render quickly"


def test_sizes_are_toy_world(manifest):
    for aid, entry in manifest["assets"].items():
        size = sorted(entry["metadata"]["nominal_size"])
        category = entry["metadata"]["category"]
        if aid == "domino":
            assert size == pytest.approx([0.03, 0.1, 0.2], abs=0.005)
        elif category == "primitive":
            assert 0.2 <= size[-1] <= 0.3, aid
        elif category == "furniture":
            assert 0.5 <= size[-1] <= 1.0, aid
        else:
            assert 0.08 <= size[-1] <= 0.3, aid


def test_archives_hold_exactly_the_four_files(library, manifest):
    for aid in manifest["assets"]:
        with tarfile.open(library / f"{aid}.tar.gz", "r:gz") as tar:
            members = tar.getmembers()
        assert [m.name for m in members] == MEMBERS
        assert all(m.isfile() and m.mtime == 0 and m.uid == 0 and m.gid == 0 for m in members)
        data = json.loads(_files(library, aid)["data.json"])
        assert data["id"] == aid and data["kwargs"] == manifest["assets"][aid]["kwargs"]


@pytest.mark.parametrize("aid", ASSET_IDS)
def test_visual_mesh_is_a_clean_body_centred_at_its_centre_of_mass(library, manifest, aid):
    mesh = _visual(library, aid)
    assert mesh.is_watertight and mesh.is_winding_consistent
    assert mesh.body_count == 1
    assert mesh.volume > 0
    assert np.abs(mesh.center_mass).max() < 1e-5
    entry = manifest["assets"][aid]
    assert np.allclose(mesh.bounds, entry["kwargs"]["bounds"], atol=1e-6)
    assert mesh.volume == pytest.approx(entry["metadata"]["volume"], rel=1e-5)
    assert len(mesh.faces) == entry["metadata"]["nr_faces"]


@pytest.mark.parametrize("aid", ASSET_IDS)
def test_mass_and_inertia(library, manifest, aid):
    mass, inertia = _urdf_inertial(library, aid)
    assert mass == pytest.approx(manifest["assets"][aid]["kwargs"]["mass"], rel=1e-6)
    assert np.allclose(inertia, inertia.T)
    eig = np.linalg.eigvalsh(inertia)
    assert eig.min() > 0
    assert eig[2] <= eig[0] + eig[1] + 1e-12  # triangle inequality of principal moments
    mesh = _visual(library, aid)
    mesh.density = manifest["assets"][aid]["metadata"]["density"]
    assert np.allclose(inertia, mesh.moment_inertia, rtol=1e-5, atol=1e-9 * eig.max())


@pytest.mark.parametrize("aid", ASSET_IDS)
def test_collision_parts_are_convex_and_fit_the_visual_mesh(library, manifest, aid):
    parts = _collision_parts(library, aid)
    assert len(parts) == manifest["assets"][aid]["metadata"]["collision_parts"] >= 1
    for part in parts:
        assert part.is_watertight and part.is_convex and part.volume > 0
    lo, hi = np.array(manifest["assets"][aid]["kwargs"]["bounds"])
    points = np.concatenate([p.vertices for p in parts])
    # parts stay within the object and reach all of its extent
    assert np.all(points >= lo - 1e-3) and np.all(points <= hi + 1e-3)
    assert np.allclose(points.min(0), lo, atol=2e-3) and np.allclose(points.max(0), hi, atol=2e-3)


def test_concave_assets_keep_their_openings(manifest):
    """Hollow things must not collide as solid lumps."""
    for aid in ("mug", "bowl", "vase", "plate", "torus", "chair", "table", "shelf"):
        md = manifest["assets"][aid]["metadata"]
        assert md["collision_method"] in ("parts", "vhacd") and md["collision_parts"] > 1, aid


# -- physics ---------------------------------------------------------------------------------------

def _drop(library, manifest, aid, seconds=3.0):
    import pybullet as pb

    entry = manifest["assets"][aid]
    scratch = library.parent / f"unpacked-{aid}"
    scratch.mkdir(exist_ok=True)
    for name, data in _files(library, aid).items():
        (scratch / name).write_bytes(data)
    collision = np.concatenate([p.vertices for p in _collision_parts(library, aid)])
    client = pb.connect(pb.DIRECT)
    try:
        # Kubric's settings (kubric/simulator/pybullet.py)
        pb.setPhysicsEngineParameter(restitutionVelocityThreshold=0., warmStartingFactor=0.,
                                     useSplitImpulse=True, contactSlop=0., enableConeFriction=False,
                                     deterministicOverlappingPairs=True, physicsClientId=client)
        pb.setGravity(0, 0, -9.81, physicsClientId=client)
        plane = pb.createMultiBody(0, pb.createCollisionShape(pb.GEOM_PLANE, physicsClientId=client),
                                   physicsClientId=client)
        pb.changeDynamics(plane, -1, lateralFriction=0.5, restitution=0.5, physicsClientId=client)
        start_z = 0.05 - collision[:, 2].min()
        body = pb.loadURDF(str(scratch / "object.urdf"), [0, 0, start_z], useMaximalCoordinates=True,
                           physicsClientId=client)
        assert body >= 0
        pb.changeDynamics(body, -1, contactProcessingThreshold=0,
                          lateralFriction=entry["kwargs"]["friction"],
                          restitution=entry["kwargs"]["restitution"], physicsClientId=client)
        steps = int(seconds * 240)
        trace = []
        for _ in range(steps):
            pb.stepSimulation(physicsClientId=client)
            pos, quat = pb.getBasePositionAndOrientation(body, physicsClientId=client)
            trace.append((*pos, *quat))
    finally:
        pb.disconnect(client)
    trace = np.array(trace)
    pos, quat = trace[-1, :3], trace[-1, 3:]
    rot = trimesh.transformations.quaternion_matrix(np.roll(quat, 1))[:3, :3]  # xyzw -> wxyz
    last = trace[-120:]  # the final half second
    # Kubric disables Bullet's restitution velocity threshold, so resting contacts keep a
    # tiny jitter in the velocity; being at rest is judged by not moving over half a second.
    moved = np.linalg.norm(last[:, :3] - pos, axis=1).max()
    turned = np.degrees(2 * np.arccos(np.clip(np.abs(last[:, 3:] @ quat), 0, 1))).max()
    lowest = (collision @ rot.T + pos)[:, 2].min()
    return dict(lowest=lowest, top=trace[:, 2].max() - start_z, moved=moved, turned=turned,
                tilt=np.degrees(np.arccos(np.clip(rot[2, 2], -1, 1))), drift=np.hypot(pos[0], pos[1]))


@pytest.mark.parametrize("aid", ASSET_IDS)
def test_dropped_object_comes_to_rest_on_the_ground(library, manifest, aid):
    r = _drop(library, manifest, aid)
    assert np.isfinite(list(r.values())).all()
    assert r["top"] < 0.05, f"{aid} jumped {r['top']:.3f} m: exploding contacts"
    assert abs(r["lowest"]) < 3e-3, f"{aid} rests with its lowest point at {r['lowest']:.4f} m"
    assert r["moved"] < 2e-3 and r["turned"] < 1, f"{aid} still moving: {r}"
    assert r["tilt"] < 5 and r["drift"] < 0.05, f"{aid} did not keep its resting pose: {r}"


def test_a_small_ball_falls_into_the_mug_not_onto_a_lid(library, manifest):
    """The decomposition is a compound of several hulls, not one hull closing the cup."""
    import pybullet as pb

    scratch = library.parent / "unpacked-mug-ball"
    scratch.mkdir(exist_ok=True)
    for name, data in _files(library, "mug").items():
        (scratch / name).write_bytes(data)
    lo, hi = np.array(manifest["assets"]["mug"]["kwargs"]["bounds"])
    client = pb.connect(pb.DIRECT)
    try:
        pb.setGravity(0, 0, -9.81, physicsClientId=client)
        mug = pb.loadURDF(str(scratch / "object.urdf"), [0, 0, -lo[2]], useFixedBase=True,
                          physicsClientId=client)
        ball = pb.createMultiBody(0.01, pb.createCollisionShape(pb.GEOM_SPHERE, radius=0.01,
                                                                physicsClientId=client),
                                  basePosition=[0, 0, 0.2], physicsClientId=client)
        for _ in range(480):
            pb.stepSimulation(physicsClientId=client)
        z = pb.getBasePositionAndOrientation(ball, physicsClientId=client)[0][2]
        assert mug >= 0
    finally:
        pb.disconnect(client)
    assert z < 0.04, f"ball stopped at {z:.3f} m; the mug is 0.095 m tall with an 8 mm floor"


# -- Kubric ----------------------------------------------------------------------------------------

def test_kubric_loads_every_asset_from_the_manifest(library, manifest):
    with kb.AssetSource.from_manifest(library / "manifest.json") as source:
        assert source.all_asset_ids == sorted(ASSET_IDS)
        for aid in source.all_asset_ids:
            obj = source.create(aid)
            assert isinstance(obj, kb.FileBasedObject)
            assert Path(obj.render_filename).is_file() and Path(obj.simulation_filename).is_file()
            assert obj.mass == manifest["assets"][aid]["kwargs"]["mass"]
            assert obj.metadata["category"] == manifest["assets"][aid]["metadata"]["category"]


def test_kubric_simulates_a_scene_of_library_objects(library, tmp_path):
    from kubric.simulator.pybullet import PyBullet  # after kb: the TensorFlow stand-in is in place

    with open_asset_source(library) as source:
        scene = kb.Scene(frame_start=1, frame_end=24, frame_rate=12, step_rate=240)
        scene += kb.Cube(name="floor", scale=(3, 3, 0.1), position=(0, 0, -0.1), static=True)
        placed = {}
        for i, aid in enumerate(("mug", "domino", "bowl", "chair")):
            obj = create_asset(source, aid, name=aid, position=(i * 0.6 - 0.9, 0, 0.5))
            scene += obj
            placed[aid] = obj
        sim = PyBullet(scene, scratch_dir=str(tmp_path))
        try:
            animation, _ = sim.run(frame_start=1, frame_end=24)
        finally:  # disarm Kubric's __del__, which would disconnect a reused client id later
            sim._physics_client.disconnect()
            sim._physics_client._client = -1
    for aid, obj in placed.items():
        z = np.asarray(animation[obj]["position"])[:, 2]
        rest = -obj.bounds[0][2]  # centre-of-mass height when standing on the floor
        assert np.isfinite(z).all() and 0 < z[-1] < rest + 0.01, (aid, z[-1], rest)


def test_create_asset_leaves_the_manifest_untouched(library):
    with open_asset_source(library) as source:
        before = json.dumps(SceneLibrary.of(source).entry("cube"), sort_keys=True)
        obj = create_asset(source, "cube", name="big", scale=2.0, mass=9.0)
        assert obj.name == "big" and tuple(obj.scale) == (2.0, 2.0, 2.0) and obj.mass == 9.0
        assert json.dumps(SceneLibrary.of(source).entry("cube"), sort_keys=True) == before
        assert create_asset(source, "cube").mass == SceneLibrary.of(source).entry("cube")["kwargs"]["mass"]
        with pytest.raises(KeyError, match="did you mean 'cube'"):
            create_asset(source, "cubee")


def test_asset_ids_and_categories(library):
    with open_asset_source(library) as source:
        assert asset_ids(source) == sorted(ASSET_IDS)
        assert asset_ids(source, "furniture") == ["chair", "shelf", "table"]


def test_moved_library_still_works(library, tmp_path):
    moved = tmp_path / "elsewhere" / "my-assets"
    shutil.copytree(library, moved)
    with kb.AssetSource.from_manifest(moved / "manifest.json") as source:
        assert Path(source.data_dir) == moved
        assert Path(source.create("plate").render_filename).is_file()
    with open_asset_source(moved) as source:  # a folder is accepted too
        assert Path(source.data_dir) == moved


def test_user_manifest_pointing_elsewhere(library, tmp_path, manifest):
    """A user's manifest (like a GSO/KuBasic mirror's) whose archives live in another folder."""
    user = tmp_path / "user"
    user.mkdir()
    entries = {"my_mug": dict(manifest["assets"]["mug"], path="mug.tar.gz"),
               "cube": manifest["assets"]["cube"]}
    absolute = user / "absolute.json"
    absolute.write_text(json.dumps({"name": "mirror", "data_dir": str(library), "assets": entries}))
    relative = user / "relative.json"
    relative.write_text(json.dumps({"name": "mirror", "data_dir": os.path.relpath(library, user),
                                    "assets": entries}))
    for path in (absolute, relative):
        with open_asset_source(path) as source:
            assert asset_ids(source) == ["cube", "my_mug"]
            obj = create_asset(source, "my_mug")
            assert obj.asset_id == "my_mug" and Path(obj.simulation_filename).is_file()
            assert obj.metadata["category"] == "tableware"
    with kb.AssetSource.from_manifest(absolute) as source:  # plain Kubric agrees
        assert Path(source.create("cube").render_filename).is_file()


def test_missing_or_foreign_manifest_gives_a_clear_error(tmp_path):
    missing = tmp_path / "nope" / "GSO.json"
    with pytest.raises(FileNotFoundError) as err:
        open_asset_source(missing)
    assert str(missing) in str(err.value) and "\n" not in str(err.value)
    for text in ('{"objects": []}', "not json", '{"assets": {"x": {"kwargs": {}}}}'):
        bad = tmp_path / "bad.json"
        bad.write_text(text)
        with pytest.raises(ValueError, match="is not a Kubric asset manifest") as err:
            open_asset_source(bad)
        assert "\n" not in str(err.value)


# -- building ----------------------------------------------------------------------------------------

def test_build_is_byte_identical_in_another_process(library, tmp_path):
    other = tmp_path / "again"
    subprocess.run([sys.executable, "-c",
                    "import sys; from datagen.assets import build_library; build_library(sys.argv[1])",
                    str(other)], check=True, cwd=REPO, env={**os.environ, "PYTHONHASHSEED": "random"})
    names = sorted(p.name for p in library.iterdir())
    assert sorted(p.name for p in other.iterdir()) == names
    for name in names:
        assert (other / name).read_bytes() == (library / name).read_bytes(), name


def test_rebuild_is_skipped_when_current_and_forced_when_asked(library, monkeypatch):
    stamp = (library / "cube.tar.gz").stat().st_mtime_ns
    monkeypatch.setattr(builder, "build_asset", lambda recipe: pytest.fail("rebuilt"))
    assert build_library(library) == library / "manifest.json"
    assert (library / "cube.tar.gz").stat().st_mtime_ns == stamp


def test_concurrent_builds_agree_and_leave_no_debris(tmp_path):
    out = tmp_path / "shared" / "lib"
    code = ("import sys; from datagen.assets import build_library; "
            "print(build_library(sys.argv[1], asset_ids=['cube', 'mug']))")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(out)], cwd=REPO,
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert results == [str(out / "manifest.json")] * 2
    assert sorted(p.name for p in out.iterdir()) == ["cube.tar.gz", "manifest.json", "mug.tar.gz"]
    assert [p.name for p in out.parent.iterdir()] == ["lib"]  # no temp or old folders left


def test_losing_a_race_keeps_the_winners_library(tmp_path):
    out = build_library(tmp_path / "lib", asset_ids=["cube"]).parent
    loser = tmp_path / ".lib.tmp-x"
    shutil.copytree(out, loser)
    (loser / "cube.tar.gz").write_bytes(b"loser")
    builder._install(loser, out, ["cube"], force=False)
    assert (out / "cube.tar.gz").read_bytes() != b"loser"


def test_refuses_to_overwrite_a_foreign_folder(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        build_library(tmp_path, asset_ids=["cube"])
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_recipe_key_follows_the_shapes_code(tmp_path, monkeypatch):
    key = recipe_key()
    edited = tmp_path / "shapes.py"
    edited.write_text(Path(shapes.__file__).read_text() + "\n# a new shape\n")
    monkeypatch.setattr(shapes, "__file__", str(edited))
    assert recipe_key() != key


def test_default_manifest_is_built_once_into_the_cache(library, tmp_path, monkeypatch):
    monkeypatch.setenv("COUNTERFACTORY_CACHE", str(tmp_path / "cache"))
    cached = tmp_path / "cache" / "assets" / recipe_key()
    shutil.copytree(library, cached)  # as if an earlier run had built it
    monkeypatch.setattr(builder, "build_asset", lambda recipe: pytest.fail("rebuilt"))
    assert default_manifest() == cached / "manifest.json"
    with open_asset_source() as source:
        assert Path(source.data_dir) == cached


def test_cli_lists_every_asset(library):
    run = subprocess.run([sys.executable, "-m", "datagen.assets", "build", "--out", str(library)],
                         cwd=REPO, capture_output=True, text=True, check=True)
    lines = run.stdout.strip().splitlines()
    assert str(library / "manifest.json") in lines[0]
    assert [line.split()[0] for line in lines[1:]] == sorted(ASSET_IDS)


def test_data_dir_argument_overrides_the_manifest(library, tmp_path, manifest):
    """Kubric's published manifests point at gs://; a local mirror is used by overriding data_dir."""
    remote = tmp_path / "GSO.json"
    remote.write_text(json.dumps({"name": "GSO", "data_dir": "gs://kubric-public/assets/GSO",
                                  "assets": {"cube": manifest["assets"]["cube"]}}))
    with open_asset_source(remote, data_dir=library) as source:
        assert Path(create_asset(source, "cube").render_filename).is_file()
    with pytest.raises(FileNotFoundError, match="data_dir not found"):
        open_asset_source(remote, data_dir=tmp_path / "no-mirror")
