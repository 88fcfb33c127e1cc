"""Real assets, offline: Sweet Home 3D libraries, HDR maps in the three formats we read, the scene
library that joins them with the procedural one, and generator runs that draw from them. Every source
is a small file written here in the real format (GSO mirrors and your own HDRIs: tests/test_gso.py)."""
from __future__ import annotations

import base64
import io
import json
import math
import tarfile

import numpy as np
import pytest
from PIL import Image

from datagen.assets.source import SceneLibrary
from datagen.assets import hdri, library, sweethome
from datagen.assets.library import AssetsConfig, build_sweethome, extract_sun, scene_manifest
from sh3f_stand_in import write_sh3f
from datagen.scene.random_scene import keep_asset_looks, library_ids, pick_asset, sky_and_sun

CUBE_OBJ = """o cube
v -1 0 -1
v 1 0 -1
v 1 2 -1
v -1 2 -1
v -1 0 1
v 1 0 1
v 1 2 1
v -1 2 1
vt 0 0
vt 1 0
vt 1 1
vt 0 1
vn 0 0 -1
usemtl paint
f 1/1/1 2/2/1 3/3/1 4/4/1
f 5/1 8/4 7/3 6/2
f 1/1 5/2 6/3 2/4
f 2/1 6/2 7/3 3/4
f 3/1 7/2 8/3 4/4
f 4/1 8/2 5/3 1/4
"""


def png(color, size=8) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), tuple(color)).save(buf, format="PNG")
    return buf.getvalue()


def sh3f(path, library_name="BlendSwap-CC-0"):
    mtl = "newmtl paint\nKd 1 1 1\nmap_Kd paint.png\n"
    return write_sh3f(path, library_name, [
        {"name": "Toy block", "category": "Miscellaneous", "size_cm": (20, 10, 30), "obj": CUBE_OBJ, "mtl": mtl,
         "textures": {"paint.png": png((200, 30, 30))}, "creator": "Ann"},
        {"name": "Lying crate", "category": "Miscellaneous", "size_cm": (20, 30, 10), "obj": CUBE_OBJ, "mtl": mtl,
         "textures": {"paint.png": png((30, 200, 30))}, "rotation": (1, 0, 0, 0, 0, 1, 0, -1, 0)},
        {"name": "Apple iPhone", "category": "Office", "size_cm": (7, 1, 14), "obj": CUBE_OBJ, "mtl": None},
        {"name": "Broken vase", "category": "Living room", "size_cm": (20, 20, 30), "obj": CUBE_OBJ,
         "mtl": "newmtl paint\nmap_Kd C:\\\\Users\\\\me\\\\vase.jpg\n"},
        {"name": "Door", "category": "Doors and windows", "size_cm": (90, 5, 200), "obj": CUBE_OBJ, "mtl": None},
    ])


# -- Sweet Home 3D ------------------------------------------------------------------------------------

def test_catalogue_is_read_and_models_become_textured_assets(tmp_path):
    path = sh3f(tmp_path / "BlendSwap-CC-0.sh3f")
    models = sweethome.read_catalogue(path)
    assert [m.name for m in models] == ["Toy block", "Lying crate", "Apple iPhone", "Broken vase", "Door"]
    assert models[0].licence == "CC0-1.0" and models[0].creator == "Ann"
    assert [sweethome.usable(m) for m in models][2:] == ["trademark (iphone)", None, "category Doors and windows"]
    out = tmp_path / "lib"
    out.mkdir()
    report = build_sweethome(out, [path])
    assert report.licences == {"CC0-1.0": 2} and report.skipped == {"trademark": 1, "incomplete files": 1,
                                                                     "category": 1}
    manifest = json.loads((out / "manifest.json").read_text())
    block, crate = manifest["assets"]["toy_block"], manifest["assets"]["lying_crate"]
    assert block["license"] == "CC0-1.0" and block["metadata"]["keep_materials"] and block["metadata"]["textured"]
    # the catalogue size, in metres, Z up (width x, depth y, height z)
    for entry, size in ((block, (0.2, 0.1, 0.3)), (crate, (0.2, 0.3, 0.1))):
        lo, hi = np.array(entry["kwargs"]["bounds"])
        np.testing.assert_allclose(hi - lo, size, atol=1e-5)
    # a uniform box: its hull's centre of mass is the middle of its bounds; mass = density x volume
    lo, hi = np.array(block["kwargs"]["bounds"])
    np.testing.assert_allclose((lo + hi) / 2, 0, atol=1e-6)
    assert block["kwargs"]["mass"] == pytest.approx(sweethome.density(models[0]) * 0.2 * 0.1 * 0.3, rel=1e-4)
    assert block["metadata"]["roles"] == ["small", "tall"] and crate["metadata"]["roles"] == ["small"]
    with tarfile.open(out / "toy_block.tar.gz") as tar:
        names = set(tar.getnames())
        assert {"visual_geometry.obj", "material.mtl", "collision_geometry.obj", "object.urdf", "data.json"} <= names
        mtl = tar.extractfile("material.mtl").read().decode()
        texture = next(n for n in names if n.startswith("tex_"))
        assert f"map_Kd {texture}" in mtl
        assert Image.open(tar.extractfile(texture)).getpixel((0, 0)) == (200, 30, 30)
        obj = tar.extractfile("visual_geometry.obj").read().decode()
    assert "vn " not in obj and "f 1/1 2/2 3/3 4/4" in obj and "usemtl paint" in obj and "mtllib material.mtl" in obj


# -- HDR maps -------------------------------------------------------------------------------------------

SUN_ROW_COL = (20, 40)


def sky_map(h=64, w=128) -> np.ndarray:
    """A gradient sky, a dark ground and a small, very bright sun at a known pixel."""
    rows = np.linspace(1.0, 0.2, h)[:, None, None]
    rgb = np.broadcast_to(rows * np.array([0.6, 0.7, 1.0]), (h, w, 3)).astype(np.float32).copy()
    rgb[h // 2:] = 0.15
    r, c = SUN_ROW_COL
    rgb[r - 1:r + 2, c - 1:c + 2] = 5000.0
    rgb[5, 5] = -40.0  # DWAB ringing
    return rgb


def write_hdr(path, rgb):
    """A flat (uncompressed) Radiance file."""
    m = np.maximum(rgb.max(-1), 1e-32)
    e = np.ceil(np.log2(m)).astype(np.int32)
    mant = np.clip(rgb / np.ldexp(1.0, e)[..., None] * 256, 0, 255).astype(np.uint8)
    data = np.concatenate([mant, np.where(m > 1e-32, e + 128, 0).astype(np.uint8)[..., None]], -1)
    path.write_bytes(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y %d +X %d\n" % rgb.shape[:2] + data.tobytes())


def test_three_formats_read_alike_and_negatives_are_cleaned(tmp_path):
    rgb = sky_map()
    hdri.write_exr(tmp_path / "sky.exr", rgb, half=False)
    write_hdr(tmp_path / "sky.hdr", np.maximum(rgb, 0))
    (tmp_path / "sky.exr.js").write_text("export default 'data:application/exr;base64,"
                                         + base64.b64encode((tmp_path / "sky.exr").read_bytes()).decode() + "'\n")
    maps = [hdri.read_image(tmp_path / n) for n in ("sky.exr", "sky.hdr", "sky.exr.js")]
    for m in maps:
        assert m.shape == (64, 128, 3) and m.min() >= 0 and np.isfinite(m).all()
        np.testing.assert_allclose(m, np.maximum(rgb, 0), rtol=0.02, atol=1e-3)


def test_sun_direction_and_energy(tmp_path):
    rgb = np.maximum(sky_map(), 0)
    info = hdri.analyse(rgb)
    expected = hdri.pixel_direction(*SUN_ROW_COL, 64, 128)
    assert np.degrees(np.arccos(np.clip(np.dot(info["sun_direction"], expected), -1, 1))) < 2.0
    assert info["sun_share"] > 0.5
    lighting, sun = extract_sun(rgb)
    # what the lighting map lost is exactly the lamp's irradiance (energy is only moved, not lost)
    h, w = 64, 128
    omega = (np.cos((0.5 - (np.arange(h) + 0.5) / h) * np.pi) * (np.pi / h) * (2 * np.pi / w))[:, None, None]
    lost = ((rgb - lighting) * omega).reshape(-1, 3).sum(0)
    np.testing.assert_allclose(lost, sun["irradiance_rgb"], rtol=1e-4)
    assert lighting.max() < 100 and sun["angle_degrees"] >= 0.5
    # the conventions: +X is the map's middle column, +Z its top row; a turn of the map by theta about
    # Z shows direction d at rotate_z(d, -theta)
    np.testing.assert_allclose(hdri.pixel_direction(31.5, 63.5, 64, 128), [1, 0, 0], atol=1e-9)
    np.testing.assert_allclose(hdri.pixel_direction(-0.5, 0, 64, 128)[2], 1, atol=1e-9)
    np.testing.assert_allclose(hdri.world_direction([1, 0, 0], math.pi / 2), [0, -1, 0], atol=1e-9)


@pytest.mark.render
def test_blender_shows_the_sun_where_the_map_direction_says(tmp_path):
    """Render the map with Cycles, turned, from a camera aimed where ``world_direction`` puts its sun:
    the sun lands in the middle of the picture."""
    from datagen.scene.render import SceneRenderer
    from datagen.scene.spec import CameraSpec, EnvironmentSpec, RenderSpec, SceneSpec

    rgb = np.maximum(sky_map(), 0)
    hdri.write_exr(tmp_path / "sky.exr", rgb)
    rotation = 1.1
    d = hdri.world_direction(hdri.pixel_direction(*SUN_ROW_COL, 64, 128), rotation)
    spec = SceneSpec(objects=[], camera=CameraSpec(position=(0, 0, 0), look_at=tuple(d * 5), focal_length=20),
                     lights=[], environment=EnvironmentSpec(background="hdri", hdri_path=str(tmp_path / "sky.exr"),
                                                            hdri_rotation=rotation, floor=None),
                     render=RenderSpec(width=64, height=48, spp=2, threads=2), frames=1, fps=12)
    with SceneRenderer(spec) as r:
        image = r.render(layers=("rgb",))["rgb"][0].astype(float).sum(-1)
    rows, cols = np.nonzero(image >= 0.95 * image.max())  # the sun's disc (saturated), its centre
    row, col = rows.mean(), cols.mean()
    assert abs(row - 23.5) <= 2 and abs(col - 31.5) <= 2, (row, col)


# -- the scene library --------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def fresh_scene_libraries():
    """Scene libraries are cached per process by their config, not by COUNTERFACTORY_SOURCES: the tests here
    open them from their own small sources, so none may reuse another test's library or leave theirs behind."""
    library._open.cache_clear()
    yield
    library._open.cache_clear()


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """A sources folder as scripts/fetch_assets.sh lays it out: a CC0 and a CC-BY furniture library and
    two @pmndrs HDRIs."""
    root = tmp_path_factory.mktemp("sources")
    (root / "sweethome3d" / "furniture").mkdir(parents=True)
    sh3f(root / "sweethome3d" / "furniture" / "BlendSwap-CC-0.sh3f")
    by = write_sh3f(root / "sweethome3d" / "furniture" / "Scopia.sh3f", "Scopia", [
        {"name": "Radio", "category": "Living room", "size_cm": (25, 10, 15), "obj": CUBE_OBJ, "mtl": None}])
    assert by.is_file()
    hdris = root / "pmndrs" / "package" / "hdri"
    hdris.mkdir(parents=True)
    for name, scale in (("park", 1.0), ("studio", 0.5)):
        hdri.write_exr(hdris / "tmp.exr", np.maximum(sky_map(), 0) * scale)
        (hdris / f"{name}.exr.js").write_text("export default 'data:application/exr;base64,"
                                             + base64.b64encode((hdris / "tmp.exr").read_bytes()).decode() + "'")
        (hdris / "tmp.exr").unlink()
    return root


def test_scene_manifest_joins_sources_and_filters_licences(sources):
    reports = library.build_sources(sources)
    by_source = {r.source: r for r in reports}
    assert by_source["sweethome3d"].licences == {"CC0-1.0": 2, "CC-BY-3.0": 1}
    assert by_source["pmndrs"].licences == {"CC0-1.0": 2} and by_source["pmndrs"].kind == "hdri"
    every = json.loads(scene_manifest(None, "any", sources).read_text())["assets"]
    cc0 = json.loads(scene_manifest(None, "cc0", sources).read_text())["assets"]
    assert {"toy_block", "lying_crate", "radio", "hdri_pmndrs_park", "cube", "mug"} <= set(every)
    assert "radio" not in cc0 and {"toy_block", "hdri_pmndrs_park", "cube"} <= set(cc0)
    assert every["radio"]["metadata"]["licence"] == "CC-BY-3.0"
    assert all(e["path"].startswith("/") for e in every.values())  # archives by absolute path


def test_samplers_draw_real_assets_by_weight_and_procedural_only_draws_as_before(sources, monkeypatch):
    from datagen.assets.source import open_asset_source

    monkeypatch.setenv("COUNTERFACTORY_SOURCES", str(sources))
    real = library._open(AssetsConfig.defaults(library="auto", floors={"procedural": 1.0}).key())
    assert library_ids(real, "object", "small") == ["lying_crate", "radio", "toy_block"]
    assert {"hdri_pmndrs_park", "hdri_pmndrs_studio"} <= set(library_ids(real, "hdri"))  # and bpy's own
    rng = np.random.default_rng(0)
    picks = {pick_asset(rng, real, ("cube", "mug"), "small") for _ in range(30)}
    assert picks <= {"lying_crate", "radio", "toy_block"} and len(picks) > 1
    env, sun = sky_and_sun(np.random.default_rng(3), real)
    assert env.background == "hdri" and env.hdri in library_ids(real, "hdri") and sun.intensity > 0
    # the sun lamp stands where the map's sun is, turned with the map
    md = SceneLibrary.of(real).entry(env.hdri)["metadata"]["sun"]
    lamp = np.asarray(sun.position) / np.linalg.norm(sun.position)
    np.testing.assert_allclose(lamp, hdri.world_direction(md["direction"], env.hdri_rotation), atol=1e-6)
    # a library without real assets draws exactly what the procedural samplers always drew
    plain = open_asset_source(None)
    a, b = np.random.default_rng(7), np.random.default_rng(7)
    assert [pick_asset(a, plain, ("cube", "mug", "bowl")) for _ in range(5)] == \
        [str(b.choice(("cube", "mug", "bowl"))) for _ in range(5)]
    assert sky_and_sun(np.random.default_rng(5), plain) == sky_and_sun(np.random.default_rng(5))


def test_built_models_keep_their_materials_unless_materials_random(sources, monkeypatch):
    """Sweet Home 3D models keep what they are imported with, textured (toy block) or not (radio: its MTL
    colour), as before assets.materials existed; materials=random gives them the sampler's draw."""
    from datagen.scene.spec import MaterialSpec, ObjectSpec, SceneSpec

    monkeypatch.setenv("COUNTERFACTORY_SOURCES", str(sources))
    drawn = MaterialSpec("wood", (0.85, 0.2, 0.15))
    spec = SceneSpec(objects=[ObjectSpec(a, a, drawn) for a in ("toy_block", "radio", "cube")])
    for materials, presets in (("keep", ["asset", "asset", "wood"]), ("random", ["wood", "wood", "wood"])):
        source = library._open(AssetsConfig.defaults(materials=materials).key())
        assert [o.material.preset for o in keep_asset_looks(spec, source).objects] == presets


def test_hdri_files_keep_the_backdrop_sharp_only_where_the_map_allows():
    assert hdri.backdrop_blur(4096) == 0.0 and hdri.backdrop_blur(1024) > 2 and hdri.backdrop_blur(512) > \
        hdri.backdrop_blur(1024)
    files, meta = library.hdri_files(np.maximum(sky_map(), 0))
    assert set(files) == {"environment.exr", "backdrop.exr"} and meta["sun"]["irradiance_rgb"][0] > 0


@pytest.mark.render
def test_void_pairs_from_real_assets_validate_credit_and_reproduce(sources, tmp_path, monkeypatch):
    """A VOID run drawing only real objects and HDRIs (CC0 ones): every invariant holds, dataset.json and
    ATTRIBUTION.md list what the samples used, and the same config and seed give the same bytes."""
    from datagen.runner import load_config, run
    from datagen.runner.validate import validate

    monkeypatch.setenv("COUNTERFACTORY_SOURCES", str(sources))
    shas = []
    for name in ("a", "b"):
        out = tmp_path / name
        cfg = load_config("void_counterfactuals", [
            f"out={out}", "num_samples=1", "runner.mode=local", "runner.progress=false", "render.width=96",
            "render.height=64", "render.frames=5", "render.spp=2", "render.fps=12", "void.families.chain=0",
            "void.families.effects=0",
            "void.negative_rate=0", "assets.licences=cc0", "assets.floors.photo=0"])
        result = run(cfg)
        assert result.ok, result.failures
        assert validate(str(out), emit=print) == (1, 0)
        summary = json.loads((out / "dataset.json").read_text())
        shas.append(summary["shards"][0]["sha256"])
    assert shas[0] == shas[1]
    assets = summary["assets"]
    assert assets and {a["licence"] for a in assets} == {"CC0-1.0"} and set(summary["licences"]) == {"CC0-1.0"}
    kinds = {a["kind"] for a in assets}
    assert {"hdri", "object"} <= kinds
    text = (out / "ATTRIBUTION.md").read_text()
    assert "## CC0-1.0" in text and all(f"`{a['id']}`" in text for a in assets)
