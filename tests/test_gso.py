"""Inputs as their producers write them (issue 23): a Google Scanned Objects mirror made by Kubric's
``kubric/scripts/download_GSO.py`` and HDRIs as a plain folder or as ``kubric/scripts/download_hdri_haven.py``
packs them. Everything is made here, step by step as those scripts do, with no key of ours."""
from __future__ import annotations

import json
import re
import shutil
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from datagen.assets.source import SceneLibrary
from datagen.assets import hdri, library, published, sweethome
from datagen.assets.library import AssetsConfig
from datagen.scene.random_scene import keep_asset_looks, library_ids
from datagen.scene.spec import CameraSpec, EnvironmentSpec, LightSpec, MaterialSpec, ObjectSpec, RenderSpec, SceneSpec
from test_realism import write_hdr  # a flat Radiance .hdr

RED, BLUE = (200, 30, 30), (30, 60, 200)
# (id, size (m), texture colours left | right half, category, description)
OBJECTS = {
    "Two_Tone_Block": ((0.2, 0.12, 0.1), (RED, BLUE), "Toys", "Two Tone Block, 2 pack"),
    "Plush_Teddy_Bear": ((0.12, 0.1, 0.16), ((150, 110, 60), (150, 110, 60)), "None", "Plush Teddy Bear"),
}


def _raw_model(folder: Path, size, colours, offset=(0.03, -0.02, 0.05)) -> None:
    """A model as GSO's own zips hold it: ``meshes/model.obj`` (``mtllib model.mtl``, ``usemtl material_0``),
    ``meshes/model.mtl``, ``materials/textures/texture.png``; off its centre of mass. Vertices with x < 0
    sample the texture's left half, the others its right half."""
    import trimesh

    box = trimesh.creation.box(size)
    v = box.vertices + offset
    uv = np.where(box.vertices[:, :1] < 0, [[0.25, 0.5]], [[0.75, 0.5]])
    lines = ["mtllib model.mtl", "o model", *(f"v {a:.6f} {b:.6f} {c:.6f}" for a, b, c in v),
             *(f"vt {a} {b}" for a, b in uv), "usemtl material_0",
             *(f"f {a + 1}/{a + 1} {b + 1}/{b + 1} {c + 1}/{c + 1}" for a, b, c in box.faces)]
    (folder / "meshes").mkdir(parents=True)
    (folder / "materials" / "textures").mkdir(parents=True)
    (folder / "meshes" / "model.obj").write_text("\n".join(lines) + "\n")
    (folder / "meshes" / "model.mtl").write_text("newmtl material_0\nKa 1 1 1\nKd 1 1 1\nKs 0 0 0\n"
                                                 "map_Kd texture.png\n")
    image = np.zeros((8, 8, 3), np.uint8)
    image[:, :4], image[:, 4:] = colours
    Image.fromarray(image).save(folder / "materials" / "textures" / "texture.png")


def kubricify(raw: Path, target: Path, name: str, category: str, description: str) -> dict:
    """What ``download_GSO.py``'s ``kubricify`` does to one downloaded ``<name>.zip``: unzip, copy the
    texture beside the mesh, load it with trimesh, centre it on its centre of mass, export the OBJ (naming
    ``visual_geometry.mtl``), move the MTL and texture, V-HACD the collision mesh, write the URDF, the
    entry (properties at density 1: mass = volume) as ``data.json`` and a flat ``<name>.tar.gz`` of the
    folder; the manifest entry is returned."""
    import pybullet
    import trimesh
    import trimesh.exchange.obj

    tmp, out = raw / name, target / name
    with zipfile.ZipFile(raw / f"{name}.zip") as z:
        z.extractall(tmp)
    shutil.copy(tmp / "materials" / "textures" / "texture.png", tmp / "meshes" / "texture.png")
    mesh = trimesh.load_mesh(tmp / "meshes" / "model.obj", file_type="obj")
    mesh.apply_translation(-mesh.center_mass)
    # The published archives say `mtllib visual_geometry.mtl` (the trimesh of 2021 wrote material_0.mtl,
    # which the script renames; trimesh 5 writes material.mtl).
    obj = re.sub(r"^mtllib .*$", "mtllib visual_geometry.mtl", trimesh.exchange.obj.export_obj(mesh), count=1,
                 flags=re.M)
    out.mkdir(parents=True)
    (out / "visual_geometry.obj").write_text(obj)
    shutil.move(tmp / "meshes" / "model.mtl", out / "visual_geometry.mtl")
    shutil.move(tmp / "materials" / "textures" / "texture.png", out / "texture.png")
    pybullet.vhacd(str(out / "visual_geometry.obj"), str(out / "collision_geometry.obj"), str(tmp / "vhacd.log"))
    i = mesh.moment_inertia
    (out / "object.urdf").write_text(
        f'<robot name="{name}"><link name="base"><inertial><origin xyz="0 0 0"/><mass value="{mesh.volume}"/>'
        f'<inertia ixx="{i[0, 0]}" ixy="{i[0, 1]}" ixz="{i[0, 2]}" iyy="{i[1, 1]}" iyz="{i[1, 2]}" izz="{i[2, 2]}"/>'
        '</inertial><visual><origin xyz="0 0 0"/><geometry><mesh filename="visual_geometry.obj"/></geometry></visual>'
        '<collision><origin xyz="0 0 0"/><geometry><mesh filename="collision_geometry.obj"/></geometry></collision>'
        "</link></robot>\n")
    entry = {"id": name, "asset_type": "FileBasedObject",
             "kwargs": {"bounds": mesh.bounds.tolist(), "mass": mesh.volume * 1.0,
                        "render_filename": "{asset_dir}/visual_geometry.obj",
                        "simulation_filename": "{asset_dir}/object.urdf"},
             "license": "CC BY-SA 4.0",
             "metadata": {"nr_faces": len(mesh.faces), "nr_vertices": len(mesh.vertices), "surface_area": mesh.area,
                          "volume": mesh.volume, "category": category, "description": description}}
    (out / "data.json").write_text(json.dumps(entry, indent=4, sort_keys=True))
    with tarfile.open(target / f"{name}.tar.gz", "w:gz") as tar:
        for p in out.glob("*"):
            tar.add(p, arcname=p.name)
    shutil.rmtree(tmp)
    shutil.rmtree(out)
    return entry


def gso_mirror(root: Path, data_dir: str = "GSO") -> Path:
    """``GSO.json`` ({name, data_dir, version, assets}) and ``GSO/<id>.tar.gz`` as download_GSO.py leaves
    them; ``data_dir`` as written (the script's target folder, or Kubric's bucket in a copied manifest)."""
    raw, target = root / "GSO_raw", root / "GSO"
    target.mkdir(parents=True, exist_ok=True)
    assets = {}
    for name, (size, colours, category, description) in OBJECTS.items():
        _raw_model(raw / "unzipped" / name, size, colours)
        with zipfile.ZipFile(raw / f"{name}.zip", "w") as z:
            for p in sorted((raw / "unzipped" / name).rglob("*")):
                if p.is_file():
                    z.write(p, p.relative_to(raw / "unzipped" / name).as_posix())
        assets[name] = kubricify(raw, target, name, category, description)
    path = root / "GSO.json"
    path.write_text(json.dumps({"name": "GSO", "data_dir": data_dir, "version": "1.0", "assets": assets}, indent=4))
    return path


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    """A copied manifest (``data_dir: gs://...``) and the local folder of its archives."""
    root = tmp_path_factory.mktemp("gso")
    return gso_mirror(root, "gs://kubric-public/assets/GSO"), root / "GSO"


@pytest.fixture
def no_sources(tmp_path, monkeypatch):
    """No installed sources; scene libraries (cached per process by config, not by sources) opened fresh
    and not left behind for other tests."""
    monkeypatch.setenv("COUNTERFACTORY_SOURCES", str(tmp_path / "no_sources"))
    library._open.cache_clear()
    yield
    library._open.cache_clear()


def open_library(**changes):
    return library._open(AssetsConfig.defaults(**changes).key())


def test_archives_are_the_producers_layout(mirror):
    manifest, folder = mirror
    data = json.loads(manifest.read_text())
    assert set(data) == {"name", "data_dir", "version", "assets"}
    entry = data["assets"]["Two_Tone_Block"]
    assert set(entry) == {"id", "asset_type", "kwargs", "license", "metadata"}
    assert set(entry["kwargs"]) == {"bounds", "mass", "render_filename", "simulation_filename"}
    assert set(entry["metadata"]) == {"nr_faces", "nr_vertices", "surface_area", "volume", "category", "description"}
    assert entry["kwargs"]["mass"] == pytest.approx(entry["metadata"]["volume"])  # 1 kg/m^3
    with tarfile.open(folder / "Two_Tone_Block.tar.gz") as tar:
        assert sorted(tar.getnames()) == ["collision_geometry.obj", "data.json", "object.urdf", "texture.png",
                                          "visual_geometry.mtl", "visual_geometry.obj"]
        obj = tar.extractfile("visual_geometry.obj").read().decode()
    assert "mtllib visual_geometry.mtl" in obj and "usemtl material_0" in obj
    verts = np.array([[float(t) for t in ln.split()[1:4]] for ln in obj.splitlines() if ln.startswith("v ")])
    np.testing.assert_allclose(verts.mean(0), 0, atol=1e-6)  # centred on the centre of mass


def test_a_copied_manifest_reads_its_archives_from_assets_data_dir(mirror, no_sources):
    manifest, folder = mirror
    with pytest.raises(ValueError, match="set assets.data_dir"):
        open_library(library=str(manifest))
    with pytest.raises(ValueError, match="assets.data_dir is where the archives"):
        AssetsConfig.defaults(data_dir=str(folder))  # with library=auto it would mean nothing
    source = open_library(library=str(manifest), data_dir=str(folder))
    assert library_ids(source, "object", "small") == ["Plush_Teddy_Bear", "Two_Tone_Block"]
    assert SceneLibrary.of(source).entry("Two_Tone_Block")["path"] == str(folder.resolve() / "Two_Tone_Block.tar.gz")


def test_licence_category_mass_and_caption_come_from_the_entry(mirror, no_sources):
    from datagen.assets import create_asset
    from datagen.scene.describe import describe_object

    manifest, folder = mirror
    source = open_library(library=str(manifest), data_dir=str(folder))
    block, bear = (SceneLibrary.of(source).entry(a) for a in ("Two_Tone_Block", "Plush_Teddy_Bear"))
    kubric = json.loads(manifest.read_text())["assets"]
    # the licence, in our naming; cc0 leaves it out
    assert block["metadata"]["licence"] == bear["metadata"]["licence"] == "CC-BY-SA-4.0"
    assert library_ids(open_library(library=str(manifest), data_dir=str(folder), licences="cc0"), "object") == []
    # "None" is no category
    assert "category" not in bear["metadata"] and block["metadata"]["category"] == "Toys"
    # mass: our density (teddy 60, toy 300 kg/m^3) x the manifest's volume, not volume x 1 kg/m^3
    for entry, density in ((block, 300), (bear, 60)):
        volume = kubric[entry["id"]]["metadata"]["volume"]
        assert entry["metadata"]["density"] == density
        assert entry["kwargs"]["mass"] == pytest.approx(density * volume, rel=1e-6)
        assert create_asset(source, entry["id"]).mass == pytest.approx(density * volume, rel=1e-6)
    assert bear["metadata"]["density"] == sweethome.density_of("teddy")
    # captions name them from their description, with or without their own look
    spec = keep_asset_looks(SceneSpec(objects=[
        ObjectSpec("a", "Two_Tone_Block", MaterialSpec("wood", (0.85, 0.2, 0.15))),
        ObjectSpec("b", "Plush_Teddy_Bear", MaterialSpec("rubber", (0.15, 0.45, 0.85)))]), source)
    assert [describe_object(spec, n) for n in "ab"] == ["two tone block", "plush teddy bear"]
    randomised = open_library(library=str(manifest), data_dir=str(folder), materials="random")
    wooden = ObjectSpec("a", "Two_Tone_Block", MaterialSpec("wood", (0.85, 0.2, 0.15)))
    plain = keep_asset_looks(SceneSpec(objects=[wooden]), randomised)
    assert describe_object(plain, "a") == "red wooden two tone block"


def test_nouns_licences_and_textures_read_as_written(tmp_path):
    assert published.licence_name("CC BY-SA 4.0") == "CC-BY-SA-4.0"
    assert published.licence_name("CC0 1.0") == "CC0-1.0" and published.licence_name(None) == "unknown"
    assert published.noun("x", {"description": "ACE Coffee Mug Kristen 16 oz cup", "category": "None"}) == \
        "ACE coffee mug kristen cup"
    prose = "Made from durable nylon webbing, this leash is strong and comfortable to hold for long walks. It has"
    assert published.noun("x", {"description": prose, "category": "Shoe"}) == "shoe"
    assert published.noun("x", {"description": prose, "category": "Stuffed Toys"}) == "stuffed toy"
    assert published.noun("x", {"description": "None", "category": "None"}) is None
    (tmp_path / "a.obj").write_text("mtllib a.mtl\nv 0 0 0\n")
    (tmp_path / "a.mtl").write_text("newmtl m\nKd 1 0 0\nmap_Kd -s 1 1 1 tex.png\n")
    assert published.obj_textures(tmp_path / "a.obj") == []  # its texture file is missing
    (tmp_path / "tex.png").write_bytes(b"png")
    assert published.obj_textures(tmp_path / "a.obj") == [tmp_path / "tex.png"]


def _object_pixels(source, materials_spec) -> np.ndarray:
    from datagen.scene.render import SceneRenderer
    from datagen.scene.simulate import simulate

    spec = SceneSpec(objects=[ObjectSpec("block", "Two_Tone_Block", materials_spec, position=(0, 0, 0.05))],
                     camera=CameraSpec(position=(-0.45, -0.8, 0.45), look_at=(0, 0, 0.05)),
                     lights=[LightSpec(intensity=3.0)], environment=EnvironmentSpec(background="color", floor="plain"),
                     render=RenderSpec(width=64, height=48, spp=4, threads=2), frames=1, fps=12)
    spec = keep_asset_looks(spec, source)
    with SceneRenderer(spec, source=source) as r:
        r.set_states(simulate(spec, source=source))
        out = r.render(layers=("rgb", "segmentation"))
    return spec, out["rgb"][0][out["segmentation"][0] == 1].astype(float)


@pytest.mark.render
def test_a_scan_keeps_its_texture_in_the_render_unless_materials_random(mirror, no_sources):
    """The two-colour texture of the scan shows on the object's pixels (both hues); materials=random
    puts one of the samplers' plain colours there instead."""
    manifest, folder = mirror
    paint = MaterialSpec("plastic", (0.9, 0.9, 0.88))  # the sampler's draw: white plastic
    spec, pixels = _object_pixels(open_library(library=str(manifest), data_dir=str(folder)), paint)
    assert spec.objects[0].material.preset == "asset" and len(pixels) > 80
    red = (pixels[:, 0] > pixels[:, 2] + 40).mean()
    blue = (pixels[:, 2] > pixels[:, 0] + 40).mean()
    assert red > 0.15 and blue > 0.15, f"the texture's hues are missing (red {red:.2f}, blue {blue:.2f})"
    spec, pixels = _object_pixels(open_library(library=str(manifest), data_dir=str(folder), materials="random"),
                                  paint)
    assert spec.objects[0].material == paint and len(pixels) > 80
    assert (np.abs(pixels[:, 0] - pixels[:, 2]) > 40).mean() < 0.05  # white: neither hue


# -- HDRIs ----------------------------------------------------------------------------------------------

def sky(h=32, w=64, scale=1.0) -> np.ndarray:
    rgb = np.broadcast_to(np.linspace(1.0, 0.2, h)[:, None, None] * np.array([0.6, 0.7, 1.0]), (h, w, 3)).copy()
    rgb[h // 2:] = 0.15
    rgb[8, 20] = 4000.0  # a sun
    return (rgb * scale).astype(np.float32)


def hdri_haven(root: Path, data_dir: str = "HDRI_haven") -> Path:
    """``HDRI_haven.json`` and ``HDRI_haven/<id>.tar.gz`` as download_hdri_haven.py makes them: the Poly Haven
    catalogue entry without its url, ``kwargs.filename`` the map's name in the archive, the archive holding
    the map and ``data.json``. The script writes the bare name (``environment_4k.hdr``); the second entry
    uses the ``{asset_dir}/<id>.hdr`` form (how published entries are described; not checked here)."""
    target = root / "HDRI_haven"
    target.mkdir(parents=True)
    assets = {}
    for aid, filename, scale in (("sunny_meadow", "environment_4k.hdr", 1.0),
                                 ("old_hall", "{asset_dir}/old_hall.hdr", 0.3)):
        entry = {"id": aid, "asset_type": "Texture", "license": "CC0 1.0", "kwargs": {"filename": filename},
                 "metadata": {"authors": ["Greg Zaal"], "resolution": "4k", "coords": None, "date_taken": 0,
                              "tags": ["outdoor"], "categories": ["skies"]}}
        write_hdr(root / "map.hdr", sky(scale=scale))
        (root / "data.json").write_text(json.dumps(entry))
        with tarfile.open(target / f"{aid}.tar.gz", "w:gz") as tar:
            tar.add(root / "map.hdr", filename.replace("{asset_dir}/", ""))
            tar.add(root / "data.json", "data.json")
        assets[aid] = entry
    path = root / "HDRI_haven.json"
    path.write_text(json.dumps({"name": "HDRI_haven", "data_dir": data_dir, "version": "1.0", "assets": assets}))
    return path


def test_a_folder_of_hdr_and_exr_maps_is_the_hdri_pool(tmp_path, no_sources):
    folder = tmp_path / "maps"
    folder.mkdir()
    write_hdr(folder / "meadow.hdr", sky())
    hdri.write_exr(folder / "Studio Light.exr", sky(scale=0.5))
    (folder / "notes.txt").write_text("not a map")
    source = open_library(hdris=str(folder))
    ids = library_ids(source, "hdri")
    assert ids == ["hdri_user_meadow", "hdri_user_studio_light"]  # the installed maps give way
    md = SceneLibrary.of(source).entry("hdri_user_meadow")["metadata"]
    assert md["licence"] == "unknown" and md["sun"]["irradiance_rgb"][0] > 0
    assert library_ids(open_library(hdris=str(folder), licences="cc0"), "hdri") == []
    from datagen.assets import create_asset
    from datagen.scene.random_scene import sky_and_sun

    lit = hdri.read_image(create_asset(source, "hdri_user_meadow").filename)  # what a render loads
    assert lit.shape == (32, 64, 3) and lit.max() < 4000  # the sun went into the lamp
    env, sun = sky_and_sun(np.random.default_rng(1), source)
    assert env.background == "hdri" and env.hdri in ids and sun.intensity > 0


def test_kubric_hdri_haven_manifest_and_archive_folder(tmp_path, no_sources):
    manifest = hdri_haven(tmp_path)
    for given in (manifest, tmp_path / "HDRI_haven"):  # the manifest, or the folder of its archives
        source = open_library(hdris=str(given), licences="cc0")
        assert library_ids(source, "hdri") == ["hdri_user_old_hall", "hdri_user_sunny_meadow"]
        md = SceneLibrary.of(source).entry("hdri_user_sunny_meadow")["metadata"]
        assert md["licence"] == "CC0-1.0" and md["creator"] == "Greg Zaal" and md["name"] == "sunny_meadow"
        ratio = SceneLibrary.of(source).entry("hdri_user_old_hall")["metadata"]["sun"]["mean_radiance"] / md["sun"]["mean_radiance"]
        assert ratio == pytest.approx(0.3, rel=0.05)
    copied = tmp_path / "copied" / "HDRI_haven.json"  # from Kubric's bucket: its archives stay there
    copied.parent.mkdir()
    bucket = "gs://kubric-public/assets/HDRI_haven"
    copied.write_text(json.dumps({**json.loads(manifest.read_text()), "data_dir": bucket}))
    with pytest.raises(ValueError, match="set assets.hdris to the local folder"):
        open_library(hdris=str(copied))
