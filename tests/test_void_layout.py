"""VOID's per-clip folders read as VOID publishes them (Netflix/void-model's ``sample/`` folder and its
loader ``videox_fun/utils/utils.py``): every mask naming, per-object masks merged, nested folders and extra
files ignored, clips that cannot be used skipped with one line each, all streamed frame by frame."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from datagen import bench
from datagen.dataset.media import ffmpeg_exe, probe, read_mask_frames
from datagen.labels.quadmask import snap
from datagen.void import layout
from datagen.void.layout import ClipFolder, iter_quadmask, scan_clips

T, H, W = 5, 32, 48


def encode(path: Path, frames: np.ndarray, *args: str) -> Path:
    """An mp4 the way VOID's tools write one: grey (T, H, W) or RGB (T, H, W, 3) frames through ffmpeg."""
    frames = np.asarray(frames, np.uint8)
    pix = "gray" if frames.ndim == 3 else "rgb24"
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([ffmpeg_exe(), "-y", "-hide_banner", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", pix,
                    "-s", f"{frames.shape[2]}x{frames.shape[1]}", "-r", "12", "-i", "pipe:0", *args, str(path)],
                   input=frames.tobytes(), check=True)
    return path


def quadmask_stage4(path: Path, mask: np.ndarray) -> Path:
    """VLM-MASK-REASONER/stage4_combine_masks.py: lossless H.264 in yuv444p."""
    return encode(path, mask, "-c:v", "libx264", "-qp", "0", "-preset", "ultrafast", "-pix_fmt", "yuv444p")


def gray_kubric(path: Path, mask: np.ndarray) -> Path:
    """data_generation/kubric_variable_objects.py's encode_sequence(lossless=True): ``libx264 -qp 0 -pix_fmt
    gray`` with its pad filter, stored with the limited-range flag older ffmpeg builds write (Debian's 5.1):
    readers range-convert it, so 63 and 127 come back as 55 and 129 (54 through mediapy)."""
    return encode(path, mask, "-c:v", "libx264", "-qp", "0", "-pix_fmt", "gray", "-x264-params", "fullrange=off",
                  "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2")


def video(seed: int, frames: int = T) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (frames, H, W, 3), dtype=np.uint8)


def input_video(path: Path, seed: int, frames: int = T) -> Path:
    return encode(path, video(seed, frames), "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "18")


def quad(seed: int) -> np.ndarray:
    """A quadmask with every level, 127/63 only from frame 1; region edges on even pixels (so a 2x nearest
    downscale keeps them whichever pixel of a pair it samples)."""
    m = np.full((T, H, W), 255, np.uint8)
    x = 4 + 2 * seed
    m[:, 4:12, x:x + 8] = 0
    m[1:, 4:12, x + 8:x + 16] = 63
    m[1:, 16:28, 20:36] = 127
    return m


def objects() -> tuple[np.ndarray, np.ndarray]:
    """Two white-on-black per-object masks (mask_0.mp4, mask_1.mp4); the second stored with values a lossy
    tool leaves (245 is still the object for VOID's >= 240 rule, 200 is not, 30 is background)."""
    a = np.zeros((T, H, W), np.uint8)
    a[:, 2:10, 2:10] = 255
    b = np.full((T, H, W), 30, np.uint8)
    b[:, 6:14, 6:20] = 245
    b[:, 20:24, 20:24] = 200
    return a, b


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    """A VOID ``sample/`` folder as published, plus the other namings VOID's loader reads, a clip without its
    input video and one whose mask has a frame too few."""
    root = tmp_path_factory.mktemp("void") / "sample"

    def clip(name: str, bg: str | None = "a table", seed: int = 0) -> Path:
        d = root / name
        d.mkdir(parents=True)
        input_video(d / "input_video.mp4", seed)
        if bg is not None:
            (d / "prompt.json").write_text(json.dumps({"bg": bg}))
        return d

    lime = clip("lime", "A lime falls on the table.")
    quadmask_stage4(lime / "quadmask_0.mp4", quad(0))
    (lime / "first_frame.jpg").write_bytes(b"\xff\xd8\xff\xe0 not read")
    (lime / "segmentation_info.json").write_text(json.dumps({"total_frames": T, "points_by_frame": {"0": [[3, 4]]}}))
    quadmask_stage4(clip("BigBen", seed=1) / "trimask_quadmask.mp4", quad(1))
    trampoline = clip("trampoline", seed=2)
    quadmask_stage4(trampoline / "trimask_quadmask.mp4", quad(2))
    sam3 = trampoline / "masks_output" / "sam3_masks"
    input_video(sam3 / "input_video.mp4", 9, frames=3)  # not a clip
    encode(sam3 / "black_mask.mp4", np.zeros((3, H, W), np.uint8), "-c:v", "libx264", "-qp", "0")
    (sam3 / "vlm_analysis.json").write_text("{}")
    kubric = clip("kubric", seed=3)
    gray_kubric(kubric / "mask.mp4", quad(3))
    both = clip("two_objects", seed=4)
    for i, m in enumerate(objects()):
        gray_kubric(both / f"mask_{i}.mp4", m)
    spinner = root / "spinner"  # the mask and prompt without the input video
    spinner.mkdir()
    quadmask_stage4(spinner / "trimask_quadmask.mp4", quad(4))
    (spinner / "prompt.json").write_text(json.dumps({"bg": "a desk"}))
    quadmask_stage4(clip("short", seed=5) / "quadmask_0.mp4", quad(5)[:-1])
    (root / "README.txt").write_text("extra files at the top are ignored")
    (root / "notes").mkdir()  # a folder that is no clip at all: ignored, not skipped
    return root


USABLE = {"BigBen": "trimask_quadmask.mp4", "kubric": "mask*.mp4", "lime": "quadmask_0.mp4",
          "trampoline": "trimask_quadmask.mp4", "two_objects": "mask_*.mp4"}


def test_scan_clips_reads_every_naming_and_skips_what_cannot_be_used(sample):
    clips, skipped = scan_clips(sample)
    assert [c.name for c in clips] == sorted(USABLE)  # name order, root's extra files and notes/ ignored
    assert {c.name: c.naming for c in clips} == USABLE
    by = {c.name: c for c in clips}
    assert [m.name for m in by["two_objects"].masks] == ["mask_0.mp4", "mask_1.mp4"]
    assert by["trampoline"].masks == (sample / "trampoline" / "trimask_quadmask.mp4",)
    assert by["lime"].prompt == "A lime falls on the table." and by["kubric"].prompt == "a table"
    assert by["lime"].info == probe(sample / "lime" / "input_video.mp4") and by["lime"].info.frames == T
    assert isinstance(by["lime"], ClipFolder) and by["lime"].video == sample / "lime" / "input_video.mp4"
    assert [(p.name, why) for p, why in skipped] == [
        ("short", "quadmask_0.mp4 has 4 frames of 48x32, input_video.mp4 has 5 frames of 48x32"),
        ("spinner", "no input_video.mp4")]
    # one clip folder given directly: its nested masks_output/ (with its own input_video.mp4) is no clip
    (one,), none = scan_clips(sample / "trampoline")
    assert one.folder == sample / "trampoline" and none == []


def test_scan_clips_reasons(tmp_path):
    bad = tmp_path / "bad"
    input_video(bad / "input_video.mp4", 0)
    (bad / "prompt.json").write_text(json.dumps({"caption": "no bg"}))
    quadmask_stage4(bad / "quadmask_0.mp4", quad(0))
    plain = tmp_path / "plain"
    input_video(plain / "input_video.mp4", 0)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "input_video.mp4").write_bytes(b"not a video")
    quadmask_stage4(broken / "quadmask_0.mp4", quad(0))
    clips, skipped = scan_clips(tmp_path)
    reasons = {p.name: why for p, why in skipped}
    assert clips == [] and set(reasons) == {"bad", "plain", "broken"}
    assert reasons["bad"] == 'prompt.json has no "bg" string'
    assert reasons["plain"].startswith("no mask (quadmask_0.mp4, quadmask_*.mp4, trimask_quadmask.mp4, mask_*.mp4")
    assert reasons["broken"].startswith("input_video.mp4: cannot read the video")
    assert "\n" not in "".join(reasons.values())
    clips, skipped = scan_clips(tmp_path, need_mask=False)  # a video alone is a clip when no mask is needed
    assert [(c.name, c.naming, c.masks, c.prompt) for c in clips] == [("plain", "none", (), None)]


def test_iter_quadmask_snaps_merges_and_resizes_streamed(sample):
    by = {c.name: c for c in scan_clips(sample)[0]}
    for name, seed in (("lime", 0), ("BigBen", 1), ("trampoline", 2)):
        assert np.array_equal(np.stack(list(iter_quadmask(by[name]))), quad(seed)), name
    raw = np.stack(list(read_mask_frames(sample / "kubric" / "mask.mp4")))
    assert set(np.unique(raw)) - {0, 63, 127, 255}, "the grey encoding's range quirk must show"
    assert np.array_equal(np.stack(list(iter_quadmask(by["kubric"]))), quad(3))  # VOID's snapping repairs it
    a, b = objects()
    merged = np.stack(list(iter_quadmask(by["two_objects"])))
    expected = np.where((a >= 240) | (b >= 240), 0, 255).astype(np.uint8)
    assert np.array_equal(merged, expected)
    assert set(np.unique(merged)) == {0, 255} and merged[:, 22, 22].tolist() == [255] * T  # 200 is not the object
    frames = iter_quadmask(by["lime"], size=(W // 2, H // 2))
    assert not isinstance(frames, (list, tuple)) and next(frames).shape == (H // 2, W // 2)
    half = np.stack(list(iter_quadmask(by["lime"], size=(W // 2, H // 2))))
    assert np.array_equal(half, quad(0)[:, ::2, ::2])
    assert np.array_equal(np.stack(list(iter_quadmask(by["two_objects"], (W // 2, H // 2)))), expected[:, ::2, ::2])


@pytest.fixture
def no_whole_clip_decoding(monkeypatch):
    """The whole-clip decoders must not be used: everything here streams."""
    import datagen.dataset.media as media
    import datagen.dataset.sample_io as sample_io

    def refuse(*a, **k):
        raise AssertionError("a whole clip was decoded into memory")
    monkeypatch.setattr(media, "decode_mp4", refuse)  # read_mask_mp4 decodes through it
    monkeypatch.setattr(sample_io, "decode_mp4", refuse)


def test_import_void_skips_the_bad_clips_and_writes_voids_canonical_layout(sample, tmp_path, capsys,
                                                                          no_whole_clip_decoding):
    assert bench.main(["import-void", str(sample), "--out", str(tmp_path / "out")]) == 0
    out, err = capsys.readouterr()
    assert err.splitlines() == [f"import-void: skipped {sample / 'short'}: quadmask_0.mp4 has 4 frames of 48x32, "
                                f"input_video.mp4 has 5 frames of 48x32",
                                f"import-void: skipped {sample / 'spinner'}: no input_video.mp4"]
    assert "5 clips imported, 2 skipped" in out
    split = tmp_path / "out" / bench.VERSION / "void_public"
    entry = json.loads((tmp_path / "out" / bench.VERSION / "manifest.json").read_text())["splits"]["void_public"]
    assert entry["clips"] == USABLE and entry["samples"] == 5 and entry["ground_truth"] is False
    assert entry["skipped"] == {"short": "quadmask_0.mp4 has 4 frames of 48x32, input_video.mp4 has 5 frames of 48x32",
                                "spinner": "no input_video.mp4"}
    assert sorted(p.name for p in split.iterdir()) == sorted(USABLE)
    sources = {c.name: c.masks for c in scan_clips(sample)[0]}
    for name, naming in USABLE.items():
        files = sorted(p.name for p in (split / name).iterdir())
        assert files == ["input_video.mp4", "prompt.json", "quadmask_0.mp4"], name
        assert (split / name / "input_video.mp4").read_bytes() == (sample / name / "input_video.mp4").read_bytes()
        assert (split / name / "prompt.json").read_bytes() == (sample / name / "prompt.json").read_bytes()
        if naming != "mask_*.mp4":
            assert (split / name / "quadmask_0.mp4").read_bytes() == sources[name][0].read_bytes(), name
    a, b = objects()
    written = np.stack(list(read_mask_frames(split / "two_objects" / "quadmask_0.mp4")))  # lossless: exact
    assert np.array_equal(written, np.where((a >= 240) | (b >= 240), 0, 255))
    (imported, *rest), none = scan_clips(split)
    assert none == [] and all(c.naming == "quadmask_0.mp4" for c in [imported, *rest])


def test_validate_on_clip_folders_skips_counts_and_exits_0(sample, capsys, no_whole_clip_decoding):
    from datagen.validate import main

    assert main([str(sample)]) == 0
    out, err = capsys.readouterr()
    assert err.splitlines() == [f"{sample / 'short'}: skipped: quadmask_0.mp4 has 4 frames of 48x32, "
                                f"input_video.mp4 has 5 frames of 48x32",
                                f"{sample / 'spinner'}: skipped: no input_video.mp4"]
    assert out.splitlines() == ["5 passed, 0 failed, 2 skipped (VOID clip layout)"]


def test_validate_fails_a_lossy_mask_and_exits_2_without_a_usable_clip(tmp_path, capsys):
    from datagen.validate import main

    lossy = tmp_path / "lossy"
    input_video(lossy / "input_video.mp4", 0)
    encode(lossy / "quadmask_0.mp4", np.repeat(quad(0)[..., None], 3, -1), "-c:v", "libx264", "-crf", "40",
           "-pix_fmt", "yuv420p")
    first = tmp_path / "first"
    input_video(first / "input_video.mp4", 0)
    m = quad(0)
    m[0, 16:28, 20:36] = 127  # the affected region on frame 0: VOID's tooling clears it
    quadmask_stage4(first / "quadmask_0.mp4", m)
    assert main([str(tmp_path)]) == 1
    out, _ = capsys.readouterr()
    lines = out.splitlines()
    assert lines[-1] == "0 passed, 2 failed, 0 skipped (VOID clip layout)" and len(lines) == 3
    assert "first: quadmask_0.mp4: frame 0 has 192 pixels of 127/63" in lines[0]
    assert "lossy:" in lines[1] and "stored lossily?" in lines[1]
    only_bad = tmp_path / "only_bad"
    quadmask_stage4(only_bad / "clip" / "quadmask_0.mp4", quad(0))
    assert main([str(only_bad)]) == 2
    out, err = capsys.readouterr()
    assert err.splitlines() == [f"{only_bad / 'clip'}: skipped: no input_video.mp4",
                                f"error: {only_bad}: no usable clip (1 skipped)"]
    assert bench.main(["import-void", str(only_bad), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.splitlines()[-1].startswith(f"error: {only_bad}: no usable VOID clip folder")


def test_level_problems_accepts_a_consistent_relabelling_only():
    hist = np.zeros(256, np.int64)
    hist[[0, 55, 129, 255]] = 10
    assert layout.level_problems(hist) == []
    hist[60] = 3  # two values for the level 63: lossy (55, 129 and 60 are off the levels)
    assert layout.level_problems(hist) == ["23 pixels off the four levels (VOID's snapping would move them): "
                                           "stored lossily?"]
    assert snap(np.array([55, 129], np.uint8)).tolist() == [63, 127]
