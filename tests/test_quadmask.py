"""Quadmask arithmetic: values, precedence, dilation, VOID's snapping and pixel rule."""
import numpy as np

from datagen.labels import quadmask as qm


def test_values_and_precedence():
    removed = np.zeros((3, 4, 5), bool)
    affected = np.zeros_like(removed)
    removed[:, 1, 1] = True
    affected[:, 1, 1:3] = True
    m = qm.quadmask(removed, affected, clear_first_frame=True)
    assert m.dtype == np.uint8 and set(np.unique(m)) <= set(qm.VALUES)
    assert m[0, 1, 1] == qm.OBJECT and m[0, 1, 2] == qm.KEEP, "no affected region on frame 0"
    assert m[1, 1, 1] == qm.OVERLAP and m[1, 1, 2] == qm.AFFECTED and m[1, 0, 0] == qm.KEEP
    assert qm.quadmask(removed, affected, clear_first_frame=False)[0, 1, 2] == qm.AFFECTED


def test_dilation():
    removed = np.zeros((1, 7, 7), bool)
    removed[0, 3, 3] = True
    m = qm.quadmask(removed, np.zeros_like(removed), dilation=2)
    assert (m[0, 1:6, 1:6] == qm.OBJECT).all() and (m == qm.OBJECT).sum() == 25


def test_snap_matches_void_reader():
    values = np.arange(256, dtype=np.uint8)
    s = qm.snap(values)
    assert (s[:32] == 0).all() and (s[32:96] == 63).all() and (s[96:192] == 127).all() and (s[192:] == 255).all()
    # a gray H.264 mask reads back as 0/54/129/255; snapping restores the four values
    assert qm.snap(np.array([0, 54, 129, 255], np.uint8)).tolist() == [0, 63, 127, 255]


def test_pixel_rule_and_effect_footprint():
    c = np.full((1, 6, 6, 3), 100, np.uint8)
    b = c.copy()
    b[0, 2, 2] = 114
    b[0, 3, 3] = 116
    change = qm.pixel_change(c, b, 15)
    assert change.sum() == 1 and change[0, 3, 3]
    # VOID's HUMOTO rule: 255 (x/255)^2.2, threshold 8 -- the same step counts more when bright
    dark, bright = np.full((1, 1, 2, 3), 40, np.uint8), np.full((1, 1, 2, 3), 200, np.uint8)
    step = np.array([0, 12], np.uint8)[None, None, :, None]
    assert not qm.pixel_change(dark, dark + step, 8, gamma=2.2).any()
    assert qm.pixel_change(bright, bright + step, 8, gamma=2.2).tolist() == [[[False, True]]]
    assert qm.pixel_change(dark, dark + step, 8).tolist() == [[[False, True]]]  # linear: both count
    # render noise comes in isolated pixels: min_neighbours keeps only coherent change
    noisy = c.copy()
    noisy[0, 0, 5] += 40
    noisy[0, 2:5, 2:5] += 40
    kept = qm.pixel_change(c, noisy, 15, min_neighbours=3)
    assert not kept[0, 0, 5] and kept[0, 2:5, 2:5].all()
    e = c.copy()
    e[0, 1:4, 1:4] -= 30  # a shadow blob
    e[0, 5, 5] -= 30  # an isolated noisy pixel
    fp = qm.effect_footprint(e, c, threshold=6, min_neighbours=3)
    assert fp[0, 1:4, 1:4].sum() >= 5 and not fp[0, 5, 5]
