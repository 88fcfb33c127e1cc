"""The exact layer decomposition (``datagen.labels.layers``) on hand-made frames: a pure object, a
pure shadow, a brightening (reflection), occlusion by a foreground object, noise folding; plus
minimality, the stored (uint8) form and the three task assemblies."""
from __future__ import annotations

import numpy as np
import pytest

from datagen.labels import layers as L
from datagen.vera import tasks as T

H, W = 24, 32


def _plate(seed=0) -> np.ndarray:
    """A textured background in (0.1, 0.9), float."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0.2, 0.8, W)[None, :, None] * np.array([1.0, 0.8, 0.6])
    return np.clip(ramp + rng.uniform(-0.1, 0.1, (H, W, 3)), 0.1, 0.9)


def _box(r0, r1, c0, c1) -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[r0:r1, c0:c1] = True
    return m


def _exact(alpha, edit, plate, full):
    assert alpha.min() >= 0 and alpha.max() <= 1 and edit.min() >= 0 and edit.max() <= 1
    np.testing.assert_allclose(L.composite(alpha, edit, plate), full, rtol=0, atol=1e-12)


def _minimal(alpha, full, plate):
    """No smaller alpha admits an edit colour in [0, 1]."""
    lower = np.clip(alpha - 1e-6, 0, None)
    sel = alpha > 1e-6
    e = L.as_float(plate) + (L.as_float(full) - L.as_float(plate)) / np.where(lower > 0, lower, 1)[..., None]
    outside = ((e < -1e-9) | (e > 1 + 1e-9)).any(axis=-1)
    assert outside[sel].all()


def test_pure_object():
    """An opaque object: alpha 1 on it (its coverage is the lower bound), 0 elsewhere, edit = it."""
    plate = _plate()
    obj = _box(5, 15, 8, 20)
    colour = np.array([0.7, 0.2, 0.3])
    full = np.where(obj[..., None], colour, plate)
    alpha, edit = L.decompose(full, plate, lower=obj)
    _exact(alpha, edit, plate, full)
    assert (alpha[obj] == 1).all() and (alpha[~obj] == 0).all()
    assert np.allclose(edit[obj], colour) and np.array_equal(edit[~obj], plate[~obj])  # fill: the plate
    # without the coverage the smallest alpha is a faint film, still exact and minimal
    a0, e0 = L.decompose(full, plate)
    _exact(a0, e0, plate, full)
    _minimal(a0, full, plate)
    assert (a0[obj] < 1).any() and (a0[~obj] == 0).all()


def test_pure_shadow():
    """F = k * P: black with alpha 1 - k, exactly."""
    plate = _plate(1)
    shadow = _box(10, 20, 4, 28)
    k = 0.55
    full = np.where(shadow[..., None], k * plate, plate)
    alpha, edit = L.decompose(full, plate)
    _exact(alpha, edit, plate, full)
    np.testing.assert_allclose(alpha[shadow], 1 - k, atol=1e-12)
    assert (alpha[~shadow] == 0).all()
    np.testing.assert_allclose(edit[shadow], 0.0, atol=1e-12)
    _minimal(alpha, full, plate)


def test_brightening_reflection():
    """A white reflection at strength t: alpha t, edit white; a coloured one: exact and minimal."""
    plate = _plate(2)
    spot = _box(2, 9, 3, 30)
    t = 0.3
    full = np.where(spot[..., None], plate + t * (1 - plate), plate)
    alpha, edit = L.decompose(full, plate)
    _exact(alpha, edit, plate, full)
    np.testing.assert_allclose(alpha[spot], t, atol=1e-12)
    np.testing.assert_allclose(edit[spot], 1.0, atol=1e-12)
    tinted = np.where(spot[..., None], plate + 0.25 * (np.array([1.0, 0.9, 0.4]) - plate), plate)
    a2, e2 = L.decompose(tinted, plate)
    _exact(a2, e2, plate, tinted)
    _minimal(a2, tinted, plate)
    # colour bleeding that raises one channel and lowers another: still exact and minimal
    mixed = plate.copy()
    mixed[spot] = np.clip(plate[spot] * np.array([1.15, 0.8, 1.0]), 0, 1)
    a3, e3 = L.decompose(mixed, plate)
    _exact(a3, e3, plate, mixed)
    _minimal(a3, mixed, plate)


def test_occlusion_by_foreground_object():
    """A subject partly behind a scene object present in both renders: where it is hidden nothing
    changes, so alpha is exactly 0 there, and 1 on its visible part."""
    plate = _plate(3)
    occluder = _box(0, H, 14, 20)
    plate[occluder] = np.array([0.2, 0.6, 0.25])
    subject = _box(6, 16, 6, 26)
    visible = subject & ~occluder
    full = plate.copy()
    full[visible] = np.array([0.9, 0.85, 0.1])
    alpha, edit = L.decompose(full, plate, lower=visible)
    _exact(alpha, edit, plate, full)
    assert (alpha[subject & occluder] == 0).all() and (alpha[visible] == 1).all() and (alpha[~subject] == 0).all()


def test_noise_folding_keeps_empty_regions_exactly_zero():
    plate = (_plate(4) * 255).round().astype(np.uint8)
    rng = np.random.default_rng(0)
    full = plate.astype(int)
    obj, shadow = _box(4, 10, 4, 10), _box(12, 20, 2, 16)
    full[obj] = (30, 200, 90)
    full[shadow] = (full[shadow] * 0.9).round()  # a faint coherent shadow (>= 3 levels darker)
    low = rng.random((H, W)) < 0.3  # dense small noise: +-1..2 levels
    full[low & ~obj & ~shadow] += rng.integers(-2, 3, (H, W, 3))[low & ~obj & ~shadow]
    fireflies = [(2, 25), (21, 28), (15, 24)]  # isolated large changes
    for r, c in fireflies:
        full[r, c] = (255, 255, 255)
    full = np.clip(full, 0, 255).astype(np.uint8)

    lay = L.layers(full, plate, lower=obj)
    empty = ~obj & ~shadow
    assert (lay.alpha[empty] == 0).all(), "noise never reaches the layer"
    assert (lay.alpha[obj] == 255).all() and (lay.alpha[shadow] > 0).all(), "the shadow is kept"
    assert all(lay.folded[r, c] for r, c in fireflies) and not lay.folded[obj].any()
    comp = L.composite(lay.alpha, lay.edit, plate)
    assert np.abs(comp - L.as_float(full)).max(-1)[~lay.folded].max() <= 0.5 / 255 + 1e-9
    assert lay.stats["residual"]["mean"] < 1.0 and lay.stats["residual"]["max"] == pytest.approx(
        np.abs(L.as_float(full) - comp).max() * 255, abs=1e-3)
    unfolded = L.layers(full, plate, lower=obj, fold=False)
    assert (unfolded.alpha[empty] > 0).any() and unfolded.stats["residual"]["max"] <= 0.5


@pytest.mark.parametrize("seed", range(3))
def test_random_frames_exact_minimal_and_stored(seed):
    rng = np.random.default_rng(seed)
    plate = rng.integers(0, 256, (6, H, W, 3)).astype(np.uint8)
    full = plate.copy()
    change = rng.random((6, H, W)) < 0.4
    full[change] = rng.integers(0, 256, (int(change.sum()), 3))
    alpha, edit = L.decompose(full, plate)
    _exact(alpha, edit, L.as_float(plate), L.as_float(full))
    _minimal(alpha, full, plate)
    assert (alpha[~change] == 0).all()
    lay = L.layers(full, plate, fold=False)
    assert lay.alpha.dtype == np.uint8 and lay.edit.dtype == np.uint8
    assert (lay.alpha.astype(float) / 255 >= alpha - 1e-9).all(), "stored alpha rounds up"
    comp = L.composite(lay.alpha, lay.edit, plate)
    assert np.abs(comp - L.as_float(full)).max() <= 0.5 / 255 + 1e-9


def test_tasks_relations():
    """Addition: composite from input; background change: opaque where the subject is not;
    matting: input == composite."""
    plate_a, plate_b = ((_plate(s) * 255).round().astype(np.uint8)[None] for s in (5, 9))
    subject = _box(6, 14, 10, 20)[None]
    full_a, full_b = plate_a.copy(), plate_b.copy()
    full_a[subject] = full_b[subject] = (250, 120, 20)
    fold = T.FoldConfig.defaults()
    add = T.object_addition(full_a, plate_a, subject, subject, fold)
    assert np.array_equal(add.input, plate_a) and np.array_equal(add.composite, full_a)
    assert (add.mask[subject] == 255).all() and (add.mask[~subject] == 0).all()
    bg = T.background_change(full_a, full_b, subject, subject, fold)
    assert (bg.alpha[~subject] == 255).all() and (bg.alpha[subject] == 0).all()
    assert np.array_equal(bg.composite, full_b) and np.array_equal(bg.input, full_a)
    mat = T.matting(full_a, plate_a, subject, subject, fold)
    assert np.array_equal(mat.input, mat.composite) and np.array_equal(mat.input, full_a)
    assert np.array_equal(mat.alpha, add.alpha)
    for clip in (add, bg, mat):
        assert clip.stats["residual_vs_render"]["max"] <= 0.5
