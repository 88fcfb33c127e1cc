"""Inference on footage of any size: a 4K clip made at test time (6 frames, not a multiple of 4k+1) runs
through model=affect, void and vera at a small working size, in bounded memory, and every output is
written back at 3840x2160 and 6 frames with the exactness rule: the object's 0/63 pixels and delivered
source pixels come from the full-resolution input, probabilities, alpha and edits are upsampled."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from datagen.core.paths import REPO_ROOT
from datagen.dataset.media import FrameWriter, probe, read_frames, read_mask_frames
from datagen.labels import quadmask as qm

pytestmark = pytest.mark.fullsize

W, H, FRAMES = 3840, 2160, 6
SIDE = 64  # infer.max_side: the clip runs at 64x36
TINY = ["data.path=unused", "model.size=tiny", f"infer.max_side={SIDE}", "infer.steps=1", "text.max_length=24",
        "infer.guidance=1"]
_PEAK = ("import resource, subprocess, sys\n"
         "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
         "sys.stderr.write(p.stderr[-3000:])\n"
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, p.returncode)\n")


def _circle(radius: float) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W]
    return (yy - 1001) ** 2 + (xx - 1703) ** 2 < radius ** 2  # edges off any 60-pixel grid


@pytest.fixture(scope="module")
def clip4k(tmp_path_factory):
    """VOID's clip layout at 4K: input_video.mp4 (H.264, like a phone's), quadmask_0.mp4 and the
    segmenter's object_mask.mp4 (lossless), prompt.json; and the same video as a folder of videos."""
    root = tmp_path_factory.mktemp("4k")
    folder = root / "void" / "clip"
    folder.mkdir(parents=True)
    obj, ring = _circle(333.3), _circle(500.5)
    yy, xx = np.mgrid[0:H, 0:W]
    with FrameWriter(folder / "input_video.mp4", W, H, 12.0, crf=30, preset="ultrafast") as video, \
            FrameWriter(folder / "object_mask.mp4", W, H, 12.0, lossless=True) as obj_out, \
            FrameWriter(folder / "quadmask_0.mp4", W, H, 12.0, lossless=True) as quad_out:
        for t in range(FRAMES):
            f = np.empty((H, W, 3), np.uint8)
            f[..., 0], f[..., 1], f[..., 2] = (xx // 16 + 7 * t) % 256, (yy // 16) % 256, 90
            f[obj] = (230, 40, 40)
            video.write(f)
            obj_out.write(np.where(obj, 255, 0).astype(np.uint8))
            q = np.full((H, W), qm.KEEP, np.uint8)
            q[ring & (t > 0)] = qm.AFFECTED
            q[obj] = qm.OBJECT
            quad_out.write(q)
    (folder / "prompt.json").write_text(json.dumps({"bg": "a striped wall"}))
    vera = root / "vera"
    vera.mkdir()
    (vera / "clip.mp4").write_bytes((folder / "input_video.mp4").read_bytes())
    (vera / "clip.txt").write_text("Add a blue ball.\n")
    return root, obj


def _infer(args: list[str]):
    from training.core.config import load_config
    from training.jobs.infer import infer

    return infer(load_config(args, name="infer"))


def _input_frames(root):
    return read_frames(root / "void" / "clip" / "input_video.mp4")


def test_affect_on_4k_keeps_size_frames_and_the_full_resolution_object(clip4k, tmp_path):
    root, obj = clip4k
    out = tmp_path / "out"
    cmd = [sys.executable, "training/infer.py", "model=affect", f"infer.input={root / 'void'}", f"infer.out={out}",
           "model.threshold=0.45", *TINY]
    proc = subprocess.run([sys.executable, "-c", _PEAK, *cmd], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=600)
    peak_kb, code = proc.stdout.split()[-2:]
    assert code == "0", proc.stderr
    # the whole clip is 149 MB as uint8 and 600 MB as floats: the process holds neither (torch itself is ~0.5 GB)
    assert int(peak_kb) < 1.5 * 2**20, f"peak RSS {int(peak_kb) / 2**20:.2f} GiB"
    clip = out / "clip"
    assert (clip / "input_video.mp4").read_bytes() == (root / "void" / "clip" / "input_video.mp4").read_bytes()
    info = probe(clip / "quadmask_0.mp4")
    assert (info.width, info.height, info.frames) == (W, H, FRAMES)
    for t, q in enumerate(read_mask_frames(clip / "quadmask_0.mp4")):
        assert np.array_equal(qm.removed_region(q), obj), t  # 0/63 exactly the full-resolution object
        assert set(np.unique(q)) <= {0, 63, 127, 255}
        if t == 0:
            assert not (q == qm.AFFECTED).any()
    settings = json.loads((clip / "settings.json").read_text())
    assert settings["size"] == [W, H] and settings["working_size"] == [64, 36]
    assert settings["max_side"] == {"value": SIDE, "from": "infer.max_side"}


def test_void_on_4k_delivers_the_input_outside_the_edit_region(clip4k, tmp_path):
    root, _ = clip4k
    (folder,) = _infer(["model=void", f"infer.input={root / 'void'}", f"infer.out={tmp_path / 'out'}",
                        "void.pass2=never", "void.keep_region=true", "void.keep_dilation=2", *TINY])
    info = probe(folder / "result.mp4")
    assert (info.width, info.height, info.frames) == (W, H, FRAMES)
    grow = int(np.ceil(2 * W / 64))  # the working-size dilation at full size
    quads = read_mask_frames(root / "void" / "clip" / "quadmask_0.mp4")
    for t, (got, src, q) in enumerate(zip(read_frames(folder / "result.mp4"), _input_frames(root), quads)):
        outside = ~qm.dilate(q != qm.KEEP, grow)
        assert outside.mean() > 0.5
        assert np.array_equal(got[outside], src[outside]), t
        assert not np.array_equal(got, src)  # the edit region is the model's


def test_vera_on_4k_is_the_source_wherever_alpha_is_zero(clip4k, tmp_path):
    root, _ = clip4k
    (folder,) = _infer(["model=vera", f"infer.input={root / 'vera'}", f"infer.out={tmp_path / 'out'}",
                        "infer.alpha_floor=128", *TINY])  # random weights: a high floor leaves zeros to check
    for name in ("result.mp4", "alpha.mp4", "edit.mp4"):
        info = probe(folder / name)
        assert (info.width, info.height, info.frames) == (W, H, FRAMES), name
    zeros = 0
    for got, src, alpha in zip(read_frames(folder / "result.mp4"), _input_frames(root),
                               read_mask_frames(folder / "alpha.mp4")):
        zero = alpha == 0
        zeros += int(zero.sum())
        assert np.array_equal(got[zero], src[zero])
    assert 0 < zeros < FRAMES * W * H


def _small_clip(folder, mask_frames: int) -> None:
    """A 5-frame 64x48 clip folder whose quadmask has ``mask_frames`` frames (an object square on keep)."""
    folder.mkdir(parents=True)
    with FrameWriter(folder / "input_video.mp4", 64, 48, 12.0) as v, \
            FrameWriter(folder / "quadmask_0.mp4", 64, 48, 12.0, lossless=True) as m:
        for t in range(5):
            v.write(np.full((48, 64, 3), 40 * t, np.uint8))
            q = np.full((48, 64), qm.KEEP, np.uint8)
            q[10:20, 10:20] = qm.OBJECT
            if t < mask_frames:
                m.write(q)


def test_skipped_clips_and_refusals_are_one_line(clip4k, tmp_path):
    """A clip folder without its video or with a mask of another length is skipped with a line naming it,
    the rest runs; a working size that cannot fit is refused before any model loads."""
    root, _ = clip4k
    bad = tmp_path / "in"
    (bad / "no_video").mkdir(parents=True)
    (bad / "no_video" / "quadmask_0.mp4").write_bytes((root / "void" / "clip" / "quadmask_0.mp4").read_bytes())
    _small_clip(bad / "short_mask", mask_frames=4)
    _small_clip(bad / "good", mask_frames=5)
    cmd = [sys.executable, "training/infer.py", "model=void", f"infer.input={bad}", f"infer.out={tmp_path / 'o'}",
           "void.pass2=never", *TINY]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    skipped = [ln for ln in proc.stderr.splitlines() if ln.startswith("skipped:")]
    assert len(skipped) == 2 and any("short_mask" in ln for ln in skipped), proc.stderr[-2000:]
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["good"]
    assert "2 skipped" in proc.stdout
    # the 4K clip at full size under a 6 GiB address-space limit (ulimit -v): refused before any model loads
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))

    huge = subprocess.run([*cmd[:3], f"infer.input={root / 'void'}", f"infer.out={tmp_path / 'o'}", *TINY[:2],
                           "infer.max_side=3840"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, preexec_fn=limit)
    assert huge.returncode == 2 and huge.stderr.strip().count("\n") == 0, huge.stderr[-2000:]
    assert "GiB" in huge.stderr and "infer.max_side" in huge.stderr
    assert not (tmp_path / "o" / "clip").exists()
