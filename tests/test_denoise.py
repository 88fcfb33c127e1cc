"""The denoiser path of the renderer: OIDN (Blender's own library) on full raw frames, the development of a
linear frame to display pixels, and parity with Cycles' in-render denoiser. Tiny renders (96x64)."""
from __future__ import annotations

import numpy as np
import pytest

from test_scene import lineup_renderer, lineup_scene

pytestmark = pytest.mark.render


def _psnr(a, b) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0 ** 2 / max(mse, 1e-12)))


@pytest.fixture(scope="module")
def scene():
    return lineup_scene(frames=2, spp=4, denoise=True)


_renderer = lineup_renderer


def test_develop_reproduces_blenders_own_frames(scene):
    """A raw frame developed here is byte-identical to the frame Blender writes, opaque and transparent."""
    with _renderer(scene, denoise=False) as r:
        opaque = r.render(layers=("rgb", "linear"), frames=[1])
        assert np.array_equal(r.finish(opaque["linear"][0]), opaque["rgb"][0])
        clear = r.render(layers=("rgba", "linear"), frames=[1])
        assert np.array_equal(r.finish(clear["linear"][0], transparent=True), clear["rgba"][0])
        with pytest.raises(ValueError, match="only with render.denoise"):
            r.render(layers=("albedo",), frames=[1])


def test_denoiser_is_thread_independent_cleaner_and_close_to_cycles_own(scene):
    from datagen.scene.denoise import Denoiser
    from datagen.scene.render import bpy

    with _renderer(scene, denoise=True) as r:
        out = r.render(layers=("rgb", "rgb_raw", "linear", "albedo", "normal"), frames=[1])
        film = [out[k][0] for k in ("linear", "albedo", "normal")]
        one, two = Denoiser(threads=1)(*film), Denoiser(threads=2)(*film)
        assert np.array_equal(one, two), "OIDN's output depends on the thread count"
        assert np.array_equal(r.finish(*film), out["rgb"][0])
        with pytest.raises(ValueError, match="cannot be denoised on its own"):
            r.render(layers=("rgb",), frames=[1], border=(0, 32, 0, 48))
    with _renderer(scene, denoise=False) as r:
        raw = r.render(layers=("rgb",), frames=[1])["rgb"]
        assert np.array_equal(raw, out["rgb_raw"]), "rgb_raw is the render without the denoiser"
        cycles = bpy.context.scene.cycles
        cycles.use_denoising, cycles.denoiser = True, "OPENIMAGEDENOISE"
        theirs = r.render(layers=("rgb",), frames=[1])["rgb"]
        cycles.use_denoising = False
    with _renderer(scene, denoise=False, spp=256) as r:
        reference = r.render(layers=("rgb",), frames=[1])["rgb"]
    assert _psnr(out["rgb"], reference) > _psnr(raw, reference) + 4, "denoising must remove noise"
    assert _psnr(out["rgb"], theirs) > 38, "our full-frame OIDN and Cycles' in-render OIDN agree"
