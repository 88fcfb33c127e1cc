"""Region rendering (datagen/scene/region.py): a pass rendered only where it can differ from a base pass,
stitched into it raw, then denoised once per frame. Tiny renders (96x64, 4 spp) of three objects in a row,
the middle one hidden."""
from __future__ import annotations

import numpy as np
import pytest

from datagen.labels.layers import change_levels
from test_scene import lineup_renderer, lineup_scene

pytestmark = pytest.mark.render
HIDDEN = {"sphere_b": "hidden"}


@pytest.fixture(scope="module")
def scene():
    return lineup_scene(frames=3, spp=4, denoise=True)


_renderer = lineup_renderer


def _boxes(base_raw, full_raw, margin=10):
    """Per frame, the box around every pixel that changed by more than 2 levels, grown by ``margin``."""
    h, w = base_raw.shape[1:3]
    boxes = []
    for b, f in zip(base_raw, full_raw):
        rows, cols = np.nonzero(change_levels(f, b) > 2)
        boxes.append((max(rows.min() - margin, 0), min(rows.max() + 1 + margin, h),
                      max(cols.min() - margin, 0), min(cols.max() + 1 + margin, w)))
    return np.array(boxes)


@pytest.mark.parametrize("denoise", [True, False])
def test_region_is_the_full_render_within_the_edge_rule(scene, denoise):
    from datagen.scene.region import base_layers, raw, render_region

    with _renderer(scene, denoise=denoise) as r:
        base = r.render(layers=(*base_layers(r), "segmentation"))
        base["rgb_raw"] = raw(base)
        full = r.render(HIDDEN, layers=("rgb", "rgb_raw", "segmentation"))
        boxes = _boxes(base["rgb_raw"], full["rgb_raw"])
        region, report = render_region(r, HIDDEN, ("rgb", "rgb_raw", "segmentation"), boxes, base)
    h, w = full["rgb"].shape[1:3]
    assert report["full_frames"] == [] and 0 < report["beauty_pixels"] < 0.9 * 3 * h * w
    inside = np.zeros(full["rgb"].shape[:3], bool)
    for t, (r0, r1, c0, c1) in enumerate(boxes):
        inside[t, r0:r1, c0:c1] = True
    assert np.array_equal(region["rgb_raw"][inside], full["rgb_raw"][inside]), "border renders are bit-identical"
    assert np.array_equal(region["rgb_raw"][~inside], base["rgb_raw"][~inside])
    assert np.array_equal(region["segmentation"][inside], full["segmentation"][inside])
    assert np.array_equal(region["segmentation"][~inside], base["segmentation"][~inside]), "labels are copied too"
    assert change_levels(full["rgb_raw"], base["rgb_raw"])[~inside].max() <= 2, "the edge rule: noise only outside"
    if denoise:  # one denoise of the stitched frame: the full render's up to the filtered noise
        levels = change_levels(region["rgb"], full["rgb"])
        assert levels.mean() < 0.3 and levels.max() <= 8
    else:
        assert np.array_equal(region["rgb"], region["rgb_raw"])


def test_a_box_too_small_grows_where_it_leaks_then_falls_back_to_the_full_frame(scene):
    from datagen.scene.region import averaged_change, base_layers, raw, render_region

    with _renderer(scene) as r:
        base = r.render(layers=base_layers(r))
        full = r.render(HIDDEN, layers=("rgb", "rgb_raw"))
        boxes = _boxes(raw(base), full["rgb_raw"], margin=-3)
        grown, grown_report = render_region(r, HIDDEN, ("rgb", "rgb_raw"), boxes, base)
        region, report = render_region(r, HIDDEN, ("rgb",), boxes, base, max_grows=0)
        with pytest.raises(ValueError, match="lacks"):
            render_region(r, HIDDEN, ("rgb",), boxes, {"rgb": base["rgb"]})
    h, w = full["rgb"].shape[1:3]
    assert grown_report["full_frames"] == [] and grown_report["grown_frames"] == 3
    assert grown_report["beauty_pixels"] < 0.9 * 3 * h * w, "a strip around the box, not the frame"
    rendered = grown["rgb_raw"] != raw(base)
    assert np.array_equal(grown["rgb_raw"][rendered], full["rgb_raw"][rendered])
    residual = [np.abs(averaged_change(a, b)).max() for a, b in zip(full["rgb_raw"], grown["rgb_raw"])]
    assert max(residual) <= 2, "what was not rendered differs from the full render by noise only (the edge rule)"
    assert report["full_frames"] == [0, 1, 2] and report["grown_frames"] == 0
    assert np.array_equal(region["rgb"], full["rgb"]), "a fallback frame is the full render, denoised the same way"


def test_adaptive_sampling_border_renders(scene):
    """With adaptive sampling (a loose threshold, so that it stops pixels early) a border render is still the
    full render's pixels."""
    with _renderer(scene, denoise=False, spp=64, adaptive_threshold=0.2) as r:
        full = r.render(layers=("rgb",), frames=[1])["rgb"][0]
        part = r.render(layers=("rgb",), frames=[1], border=(10, 50, 20, 70))["rgb"][0]
    with _renderer(scene, denoise=False, spp=64) as r:
        plain = r.render(layers=("rgb",), frames=[1])["rgb"][0]
    assert not np.array_equal(full, plain), "adaptive sampling changed nothing: the test would prove nothing"
    assert np.array_equal(part[10:50, 20:70], full[10:50, 20:70])


def test_border_edges_are_exact_where_fractions_round_down(scene):
    """Blender stores a border as fractions of the frame (float32) and truncates them back to pixels: at
    208x120, 119/208 x 208 lands under 119 and the box's last column went unrendered (a black line in the
    stitched frame). Every pixel of such boxes is rendered, none outside."""
    with _renderer(scene, denoise=False, spp=1, width=208, height=120) as r:
        full = r.render(layers=("rgb",), frames=[0])["rgb"][0]
        for box in ((33, 63, 11, 119), (10, 63, 53, 61), (63, 99, 106, 122)):
            part = r.render(layers=("rgb",), frames=[0], border=box)["rgb"][0]
            inside = np.zeros(part.shape[:2], bool)
            inside[box[0]:box[1], box[2]:box[3]] = True
            assert np.array_equal(part[inside], full[inside].reshape(-1, 3)) and not part[~inside].any(), box


def test_border_renders_place_every_layer_in_the_frame(scene):
    """Blender writes a border render cropped to the box (less to write and read back) and the renderer puts
    every layer back in the full frame: film, guides and labels equal the full render's inside, zero outside."""
    layers = ("rgb_raw", "linear", "albedo", "normal", "segmentation", "depth", "forward_flow", "backward_flow",
              "object_coordinates")
    boxes = [(5, 40, 17, 80), (0, 64, 0, 9)]
    with _renderer(scene) as r:
        full = r.render(HIDDEN, layers=layers, frames=[1, 2])
        part = r.render(HIDDEN, layers=layers, frames=[1, 2], border=boxes)
    for k in layers:
        assert part[k].shape == full[k].shape and part[k].dtype == full[k].dtype, k
        for i, (r0, r1, c0, c1) in enumerate(boxes):
            inside = np.zeros(part[k].shape[1:3], bool)
            inside[r0:r1, c0:c1] = True
            assert np.array_equal(part[k][i][inside], full[k][i][inside]), k
            assert not part[k][i][~inside].any(), k


def test_the_rendered_area_grows_only_where_the_change_crosses_its_edge():
    """A seam along a short stretch of one side grows a patch beyond that stretch (``step`` deep, ``step``
    either side along it), not a strip along the whole side; nothing already done is rendered again."""
    from datagen.scene.region import grow_at_seam, uncovered

    done = np.zeros((100, 200), bool)
    done[20:60, 30:170] = True
    seam_pixels = np.zeros_like(done)
    seam_pixels[58:60, 90:100] = True  # the change leaves through the bottom edge, columns 90-99
    assert grow_at_seam(seam_pixels, done, step=(10, 15)) == [(60, 70, 75, 115)]
    seam_pixels[20:60, 168:170] = True  # and through the whole right edge
    patches = grow_at_seam(seam_pixels, done, step=(10, 15))
    assert patches == [(10, 70, 153, 185), (60, 70, 75, 115)]  # the first wraps the corner below the box
    todo = [b for rect in patches for b in uncovered(rect, done)]
    assert not any(done[r0:r1, c0:c1].any() for r0, r1, c0, c1 in todo)
    assert sum((r1 - r0) * (c1 - c0) for r0, r1, c0, c1 in todo) == 10 * 40 + 60 * 32 - 40 * 17
