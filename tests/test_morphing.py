"""The morphing detector separates a rigidly moving object from the same object bent frame to frame."""
from __future__ import annotations

import cv2
import numpy as np

from training.inference.morphing import DEFAULT_THRESHOLD, deform_silhouette, morph_score, video_flow


def moving_square(T=9, H=96, W=128):
    rng = np.random.default_rng(0)
    bg = cv2.GaussianBlur(rng.uniform(60, 200, (H, W, 3)).astype(np.uint8), (0, 0), 3)
    tex = cv2.GaussianBlur(rng.uniform(0, 255, (30, 30, 3)).astype(np.uint8), (0, 0), 1.5)
    video, mask = np.repeat(bg[None], T, 0).copy(), np.zeros((T, H, W), bool)
    for t in range(T):
        x, y = 20 + 6 * t, 30 + 2 * t
        video[t, y:y + 30, x:x + 30] = tex
        mask[t, y:y + 30, x:x + 30] = True
    return video, mask


def test_rigid_is_not_morphing_and_a_bent_silhouette_is():
    video, mask = moving_square()
    rigid = morph_score(video, mask)
    bent = morph_score(deform_silhouette(video, mask, 2.0, np.random.default_rng(1)), mask)
    assert not rigid.morphing and bent.morphing, (rigid.score, bent.score)
    assert bent.score > 3 * max(rigid.score, DEFAULT_THRESHOLD / 3)
    assert morph_score(video, np.zeros_like(mask)).score == 0.0  # nothing generated: nothing to judge


def test_flow_follows_the_square():
    video, _ = moving_square()
    flow = video_flow(video)  # (d_row, d_col)
    assert flow.shape == video.shape[:3] + (2,)
    np.testing.assert_allclose(np.median(flow[0, 40:55, 30:45].reshape(-1, 2), axis=0), [2, 6], atol=0.7)
