"""Vera layered samples: footage loaders on clips written here, the decomposition on real renders
(shadow, reflection, occlusion), border renders, the transparent film, and the generator end to end
through the runner and the validator (three families, byte-identical reruns). Tiny renders."""
from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest

from datagen.labels import layers as L
from datagen.runner import load_config, run
from datagen.runner.config import task_config, to_plain
from datagen.dataset.media import encode_mp4
from datagen.scene.spec import CameraSpec, EnvironmentSpec, LightSpec, MaterialSpec, ObjectSpec, RenderSpec, SceneSpec
from datagen.runner.validate import validate
from datagen.vera import footage, synthetic
from runner_helpers import tar_bytes

TINY = ["render.width=96", "render.height=64", "render.frames=5", "render.spp=2", "runner.progress=false"]


@pytest.fixture(scope="module")
def source():
    from datagen.assets import open_asset_source
    return open_asset_source(None)


# -- footage ---------------------------------------------------------------------------------------
def _moving_square(frames: int, h: int, w: int, value=255) -> np.ndarray:
    v = np.zeros((frames, h, w, 3), np.uint8)
    for t in range(frames):
        v[t, h // 4: h // 4 + h // 3, 4 * t: 4 * t + w // 4] = value
    return v


@pytest.fixture(scope="module")
def footage_dirs(tmp_path_factory):
    """A VideoMatte240K-style folder (a square's colour and matte) and a background folder."""
    root = tmp_path_factory.mktemp("footage")
    (root / "matte" / "fgr").mkdir(parents=True)
    (root / "matte" / "pha").mkdir(parents=True)
    (root / "bg").mkdir()
    for name, frames in (("clip_a", 12), ("clip_b", 4)):
        pha = _moving_square(frames, 48, 64)
        fgr = np.where(pha > 0, np.array([200, 60, 40], np.uint8), np.array([90, 90, 90], np.uint8))
        (root / "matte" / "fgr" / f"{name}.mp4").write_bytes(encode_mp4(fgr, 10))
        (root / "matte" / "pha" / f"{name}.mp4").write_bytes(encode_mp4(pha, 10))
    (root / "matte" / "fgr" / "clip_a.txt").write_text("a red square dancer\n")
    ramp = np.broadcast_to(np.linspace(0, 255, 80).astype(np.uint8)[None, None, :, None], (8, 60, 80, 3))
    (root / "bg" / "ramp.mp4").write_bytes(encode_mp4(np.ascontiguousarray(ramp), 8))
    (root / "bg" / "notes.txt").write_text("not a video")
    return root


def test_matte_folder(footage_dirs):
    folder = footage.MatteFolder(footage_dirs / "matte")
    assert folder.names == ["clip_a", "clip_b"]
    assert folder.describe("clip_a") == "a red square dancer" and folder.describe("clip_b") is None
    fgr, pha, info = folder.load("clip_a", frames=6, fps=10, height=24, start=0.0)
    assert fgr.shape == (6, 24, 32, 3) and pha.shape == (6, 24, 32) and pha.dtype == np.uint8
    assert pha.max() > 240 and pha.min() < 10 and info["source_fps"] == 10
    inside = pha > 128
    assert (fgr[inside][:, 0] > 150).mean() > 0.9, "colour and matte line up"
    # a clip shorter than asked plays forward and backward (4 source frames -> 0 1 2 3 2 1 0 1)
    _, short, _ = folder.load("clip_b", frames=8, fps=10, height=48, start=0.0)
    cols = [np.flatnonzero(short[t].max(axis=0) > 128)[0] for t in range(8)]
    assert cols == [0, 4, 8, 12, 8, 4, 0, 4]
    # time resampling: 20 fps from a 10 fps source shows every source frame twice
    _, slow, _ = folder.load("clip_a", frames=6, fps=20, height=48, start=0.0)
    assert np.array_equal(slow[0], slow[1]) or np.array_equal(slow[1], slow[2])
    np.testing.assert_array_equal(footage.ping_pong(np.arange(7), 3), [0, 1, 2, 1, 0, 1, 2])


def test_matte_folder_rejects_unmatched(tmp_path):
    (tmp_path / "fgr").mkdir()
    (tmp_path / "pha").mkdir()
    (tmp_path / "fgr" / "x.mp4").write_bytes(encode_mp4(_moving_square(2, 16, 16), 10))
    with pytest.raises(ValueError, match="unmatched"):
        footage.MatteFolder(tmp_path)


def _jpeg(path, image):
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, quality=95)


@pytest.fixture(scope="module")
def videomatte_releases(tmp_path_factory):
    """VideoMatte240K as distributed, both releases: the video one (``train|test/fgr|pha/NAME.mp4``) and
    JPEG_SD/HD's frame folders (``train|test/fgr|pha/NAME/00000.jpg``, the pha frames grey JPEGs, as
    RVM's ``VideoMatteDataset`` reads them). No description files: the published data has none."""
    root = tmp_path_factory.mktemp("videomatte")
    for split, name, frames in (("train", "0000", 12), ("train", "0001", 4), ("test", "0000", 6)):
        pha = _moving_square(frames, 48, 64)
        fgr = np.where(pha > 0, np.array([200, 60, 40], np.uint8), np.array([90, 90, 90], np.uint8))
        for kind, video in (("fgr", fgr), ("pha", pha)):
            (root / "video" / split / kind).mkdir(parents=True, exist_ok=True)
            (root / "video" / split / kind / f"{name}.mp4").write_bytes(encode_mp4(video, 10))
            for t in range(frames):
                _jpeg(root / "jpeg" / split / kind / name / f"{t:05d}.jpg", video[t, ..., 0] if kind == "pha" else video[t])
    return root


@pytest.mark.parametrize("release", ["video", "jpeg"])
def test_videomatte_published_layouts(videomatte_releases, release):
    root = videomatte_releases / release
    folder = footage.MatteFolder(root)
    assert folder.names == ["test/0000", "train/0000", "train/0001"]
    assert folder.describe("train/0000") is None  # the published data has no descriptions
    fgr, pha, info = folder.load("train/0000", frames=6, fps=10, height=24, start=0.0)
    assert fgr.shape == (6, 24, 32, 3) and pha.shape == (6, 24, 32) and pha.dtype == np.uint8
    assert info["name"] == "train/0000" and info["source_size"] == [64, 48]
    inside = pha > 128
    assert pha.max() > 240 and pha.min() < 10 and (fgr[inside][:, 0] > 150).mean() > 0.9, "colour and matte line up"
    cols = [np.flatnonzero(pha[t].max(axis=0) > 128)[0] for t in range(6)]
    assert cols == [0, 2, 4, 6, 8, 10], "one source frame per output frame at the source rate"
    # a clip shorter than asked plays forward and backward (4 source frames -> 0 1 2 3 2 1 0 1)
    _, short, _ = folder.load("train/0001", frames=8, fps=10, height=48, start=0.0)
    assert [np.flatnonzero(short[t].max(axis=0) > 128)[0] for t in range(8)] == [0, 4, 8, 12, 8, 4, 0, 4]
    # one split folder is a matte folder too (what RVM's train_config.py points at)
    assert footage.MatteFolder(root / "test").names == ["0000"]
    # random starts stay inside the clip
    _, _, info = folder.load("train/0000", frames=3, fps=10, height=24, rng=np.random.default_rng(3))
    assert 0.0 <= info["start"] <= 1.2 - 0.3


def test_videomatte_frame_folders_must_pair(videomatte_releases, tmp_path):
    import shutil
    root = tmp_path / "jpeg"
    shutil.copytree(videomatte_releases / "jpeg" / "test", root)
    (root / "pha" / "0000" / "00005.jpg").unlink()
    folder = footage.MatteFolder(root)
    with pytest.raises(ValueError, match="00005.jpg") as e:
        folder.load("0000", frames=4, fps=10, height=24, start=0.0)
    assert str(root / "fgr" / "0000") in str(e.value) and "\n" not in str(e.value)
    (root / "fgr" / "0000" / "00001.jpg").write_bytes(b"not a jpeg")
    (root / "pha" / "0000" / "00001.jpg").write_bytes(b"not a jpeg")
    (root / "fgr" / "0000" / "00005.jpg").unlink()
    with pytest.raises(ValueError, match="00001.jpg: not a readable image"):
        footage.MatteFolder(root).load("0000", frames=4, fps=10, height=24, start=0.0)
    with pytest.raises(ValueError, match="no fgr/ and pha/"):
        footage.MatteFolder(tmp_path / "jpeg" / "fgr")


def test_video_folder_covers_and_crops(footage_dirs):
    folder = footage.VideoFolder(footage_dirs / "bg")
    assert folder.names == ["ramp"]
    clip, info = folder.load("ramp", frames=5, fps=16, width=32, height=32, rng=np.random.default_rng(0))
    assert clip.shape == (5, 32, 32, 3)
    row = clip[0, 16, :, 0].astype(int)
    assert row[0] > 20 and row[-1] < 235 and np.all(np.diff(row) >= -2), "centre crop of a left-to-right ramp"


def _footage_config(matte_dir, videos_dir):
    """The synthetic family from user footage only: a matte folder and a background folder."""
    return task_config(to_plain(load_config("vera_layers", [
        "out=memory://unused", *TINY, "vera.families.synthetic=1", "vera.families.single_object=0",
        "vera.families.multi_object=0", "vera.synthetic.foreground.rendered=0",
        "vera.synthetic.foreground.videomatte=1", "vera.synthetic.background.rendered=0",
        "vera.synthetic.background.videos=1", f"vera.synthetic.videomatte_dir={matte_dir}",
        f"vera.synthetic.videos_dir={videos_dir}"])), threads=2)


def test_synthetic_from_user_folders_needs_no_render(footage_dirs):
    """The synthetic family entirely from user footage (matte + backgrounds): exact layers, the
    matte as the layer's floor, the user's description in the instruction."""
    import datagen.vera_layers as vera
    cfg = _footage_config(footage_dirs / "matte", footage_dirs / "bg")
    tasks = set()
    for index in range(5):
        sample = vera.make_sample(cfg, index, 7 + index)
        tasks.add(sample["meta"]["task"])
        meta = sample["meta"]
        assert meta["family"] == "synthetic" and meta["render_cost"] == 0 and meta["passes"] == []
        assert meta["foreground"]["kind"] == "videomatte" and meta["backgrounds"][0]["kind"] == "videos"
        assert [e for check in vera.INVARIANTS for e in check(sample, cfg)] == []
        if meta["task"] != "background_change":
            assert ((sample["mask"] == 255) <= (sample["edit_alpha"] >= 128)).all()
        assert "red square dancer" in sample["edit_instruction"] or "person" in sample["edit_instruction"]
    assert tasks == {"object_addition", "background_change", "matting"}


def test_synthetic_from_the_published_jpeg_release(videomatte_releases, footage_dirs):
    """The synthetic family straight from VideoMatte240K_JPEG_SD's layout (splits, frame folders, no
    descriptions): valid exact layers, clips named by split, the subject called a person."""
    import datagen.vera_layers as vera
    cfg = _footage_config(videomatte_releases / "jpeg", footage_dirs / "bg")
    sample = vera.make_sample(cfg, 0, 11)
    assert sample["meta"]["foreground"]["kind"] == "videomatte"
    assert sample["meta"]["foreground"]["name"].split("/")[0] in ("train", "test")
    assert [e for check in vera.INVARIANTS for e in check(sample, cfg)] == []
    assert "person" in sample["edit_instruction"]


def test_place_moves_and_scales_the_layer():
    alpha = np.zeros((1, 20, 30), np.float32)
    alpha[0, 5:15, 10:20] = 1
    layer = synthetic.Layer(np.ones((1, 20, 30, 3), np.float32) * 0.5, alpha, "test", {})
    same, a = synthetic.place(layer, {"centre": np.array([[15.0, 10.0]]), "scale": np.array([1.0])}, 30, 20)
    np.testing.assert_allclose(a, alpha, atol=1e-12)
    np.testing.assert_allclose(same[0][alpha[0] > 0], 0.5)
    moved, a = synthetic.place(layer, {"centre": np.array([[25.0, 12.0]]), "scale": np.array([0.5])}, 50, 40)
    assert a.sum() == pytest.approx(alpha.sum() * 0.25, rel=1e-6), "area scales with scale^2"
    rows, cols = np.nonzero(a[0] > 0.99)  # the square spans rows 9.5..14.5 and columns 22.5..27.5
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (10, 13, 23, 26)
    assert a[0, 9, 24] == pytest.approx(0.5) and a[0, 12, 27] == pytest.approx(0.5)


# -- renders ---------------------------------------------------------------------------------------
def _stage(frames=3, floor="marble", **objects) -> SceneSpec:
    """A red cube (the subject) on a glossy floor, a low sun behind it, and a green box in front
    of it from the camera (an occluder)."""
    objs = [ObjectSpec("subject", "cube", MaterialSpec("plastic", (0.85, 0.2, 0.15)), scale=1.3,
                       position=(0.0, 0.0, 0.131)),
            ObjectSpec("occluder", "box", MaterialSpec("rubber", (0.2, 0.6, 0.3)), scale=1.0,
                       position=(0.12, -0.55, 0.081), static=True)]
    return SceneSpec(objects=objs, camera=CameraSpec(position=(0.3, -2.0, 0.55), look_at=(0.0, 0.0, 0.1), focal_length=35),
                     lights=[LightSpec("sun", position=(-3.0, 4.0, 2.5), intensity=4.0, size=1.0)],
                     environment=EnvironmentSpec(floor=floor), render=RenderSpec(width=96, height=64, spp=4, threads=2, seed=5),
                     frames=frames, fps=12)


@pytest.fixture(scope="module")
def stage_renders(source):
    from datagen.scene.simulate import simulate
    from datagen.vera.passes import Passes
    from datagen.scene.region import influence_boxes
    spec = _stage()
    states = simulate(spec, source=source)
    from datagen.scene.region import base_layers
    passes = Passes(source, 96, 64, 3)
    with passes.scene(spec, states) as s:
        full = s.render("F", ("rgb", "rgb_raw", "segmentation"))
        plate = s.render("P", base_layers(s.renderer), {"subject": "hidden"})
        full["alone"] = s.render("alone", ("segmentation",), {"occluder": "hidden"})["segmentation"]
        boxes = influence_boxes(source, spec, states, ["subject"])
        region, report = s.render_region("F_region", ("rgb", "rgb_raw", "segmentation"), None, boxes, plate)
    return spec, full, plate, region, report, boxes, passes


@pytest.mark.render
def test_decomposition_of_renders(stage_renders):
    """Shadow and floor reflection land in the alpha outside the subject; the occluder's pixels
    stay 0; the subject is opaque; the layers reproduce F."""
    spec, full, plate, *_ = stage_renders
    subject = full["segmentation"] == spec.segmentation_id("subject")
    occluder = full["segmentation"] == spec.segmentation_id("occluder")
    assert subject.sum() > 30 and occluder.sum() > 30
    lay = L.layers(full["rgb_raw"], plate["rgb_raw"], lower=subject, delivered=(full["rgb"], plate["rgb"]))
    assert (lay.alpha[subject] == 255).all()
    effects = (lay.alpha > 0) & ~subject
    assert effects.sum() > 20, "shadow and reflection are in the layer"
    darker = L.as_float(full["rgb"]).mean(-1) < L.as_float(plate["rgb"]).mean(-1) - 0.02
    assert (effects & darker).sum() > 10, "some of it is the shadow (darkening)"
    hidden = (full["alone"] == spec.segmentation_id("subject")) & occluder  # the subject behind the occluder
    assert hidden.sum() > 20 and (lay.alpha[hidden] == 0).mean() > 0.8, "occlusion: the hidden part is not in the layer"
    assert lay.stats["residual"]["mean"] < 1.0 and lay.stats["residual_folded"]["max"] <= 0.5
    assert (lay.alpha == 0).mean() > 0.5, "empty regions stay exactly 0"


@pytest.mark.render
def test_region_render_is_bit_identical(stage_renders):
    spec, full, plate, region, report, boxes, passes = stage_renders
    assert 0 < report["pixel_share"] < 1 and report["full_frames"] == []
    from datagen.scene.region import merge_boxes
    inside = np.zeros(full["rgb"].shape[:3], bool)
    for t in range(len(boxes)):
        for r0, r1, c0, c1 in merge_boxes(boxes[t]):
            inside[t, r0:r1, c0:c1] = True
    inside |= (region["rgb_raw"] != plate["rgb_raw"]).any(axis=-1)  # and where a box grew at a seam
    assert np.array_equal(region["rgb_raw"][inside], full["rgb_raw"][inside])
    assert np.array_equal(region["segmentation"][inside], full["segmentation"][inside])
    outside = ~inside
    # what the box leaves out of F is noise only, before and after the denoiser (one per stitched frame)
    assert L.change_levels(full["rgb_raw"], plate["rgb_raw"])[outside].mean() < 0.5
    assert L.change_levels(region["rgb"], full["rgb"]).mean() < 0.5
    assert passes.cost == pytest.approx(2.0 + report["pixel_share"])


@pytest.mark.render
def test_region_grows_when_the_box_is_too_small(stage_renders):
    from datagen.vera.passes import Passes
    from datagen.scene.simulate import simulate
    spec, full, plate, *_ = stage_renders
    passes = Passes(None, 96, 64, 3)
    from datagen.assets import open_asset_source
    passes.source = open_asset_source(None)
    subject = full["segmentation"][0] == spec.segmentation_id("subject")
    rows, cols = np.nonzero(subject)
    tight = np.array([[rows.min() + 2, rows.max() - 1, cols.min() + 2, cols.max() - 1]] * 3)
    with passes.scene(spec, simulate(spec, source=passes.source)) as s:
        out, report = s.render_region("F", ("rgb",), None, tight, plate)
    assert report["grown_frames"] + len(report["full_frames"]) == 3, "every frame's box grew or fell back"
    assert L.change_levels(out["rgb"], full["rgb"]).mean() < 0.5, "F up to the noise the edge rule allows"


@pytest.mark.render
def test_transparent_film(source):
    """``rgba``: the sky is transparent, the object opaque; rgb of the same pass is its colour."""
    from datagen.scene.render import SceneRenderer
    from datagen.scene.simulate import simulate
    spec = dataclasses.replace(_stage(frames=1), environment=EnvironmentSpec(floor=None), gravity=(0.0, 0.0, 0.0))
    spec.objects = spec.objects[:1]
    with SceneRenderer(spec, source=source) as r:
        r.set_states(simulate(spec, source=source))
        out = r.render(layers=("rgba", "rgb", "segmentation"))
        opaque = r.render(layers=("rgb",))
    rgba, seg = out["rgba"][0], out["segmentation"][0]
    assert rgba.shape == (64, 96, 4) and np.array_equal(out["rgb"][0], rgba[..., :3])
    inner = L.neighbour_count(seg == 1) == 8  # away from the edge, where the pixel filter mixes in the sky
    assert (rgba[..., 3][seg == 0] == 0).mean() > 0.97 and inner.sum() > 20 and (rgba[..., 3][inner] == 255).all()
    assert (opaque["rgb"][0][seg == 0] > 0).any(), "film transparency is off again afterwards"


# -- the generator end to end ----------------------------------------------------------------------
@pytest.mark.render
def test_generator_end_to_end_deterministic_and_valid(tmp_path):
    """Three samples (one per family) through the runner, twice: identical bytes, valid, previews."""
    outs = []
    for k in range(2):
        out = tmp_path / f"run{k}"
        cfg = load_config("vera_layers", [f"out={out}", "num_samples=3", "samples_per_shard=3",
                                          "runner.mode=local", "runner.cpus_per_task=2", *TINY])
        assert run(cfg).ok
        outs.append(out)
    assert tar_bytes(outs[0]) == tar_bytes(outs[1]), "same config and seed, byte-identical shards"
    lines = []
    assert validate(str(outs[0]), emit=lines.append) == (3, 0), lines

    from datagen.dataset.reader import iter_samples
    samples = list(iter_samples(str(outs[0])))
    assert {s["meta"]["family"] for s in samples} == {"synthetic", "single_object", "multi_object"}
    for s in samples:
        m = s["meta"]
        assert s["input_video"].shape == (5, 64, 96, 3) and s["edit_alpha"].dtype == np.uint8
        assert m["render"]["fps"] == 16 and m["residual"]["residual_vs_render"]["mean"] < 1.0
        assert len(s["edit_instruction"].split()) > 30 and "intact" in s["edit_instruction"]
        assert 0 < m["render_cost"] <= 2.0 + 1e-9
        assert (s["edit_alpha"] > 0).any() and (s["mask"] == 255).any()
        if m["family"] == "multi_object":
            assert "occluded_fraction" in m and m["scene"]["environment"]["floor"] in ("mirror", "marble", "tiles")

    from datagen.vera.preview import write_previews
    written = write_previews(str(outs[0]), tmp_path / "preview", limit=3)
    assert sorted(p.suffix for p in written) == [".gif"] * 3 + [".png"] * 3 + [".txt"]

    # the invariants catch broken samples
    import datagen.vera_layers as vera
    cfg = task_config(to_plain(load_config("vera_layers", ["out=memory://unused", *TINY])), threads=1)
    sample = {k: v for k, v in samples[0].items() if not k.startswith("__") and k != "info"}
    assert [e for check in vera.INVARIANTS for e in check(sample, cfg)] == []
    bad = copy.deepcopy(sample)
    bad["composite"] = np.ascontiguousarray(255 - bad["composite"])
    assert any("grey levels" in e for check in vera.INVARIANTS for e in check(bad, cfg))
    bad = copy.deepcopy(sample)
    bad["mask"][0, 0, 0] = 7
    bad["edit_instruction"] = "  "
    bad["meta"]["residual"]["specks_per_frame"] = 2.5  # render noise left in the matte
    errors = [e for check in vera.INVARIANTS for e in check(bad, cfg)]
    assert any("outside {0, 255}" in e for e in errors) and any("empty" in e for e in errors)
    assert any("specks per frame" in e for e in errors)
