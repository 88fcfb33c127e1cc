"""Whether a posed body stands on the floor: how far its planted feet slide from frame to frame.

Measured on what is rendered (the skinned vertices of each foot), so retargeting onto a body of other
proportions is measured too. A foot is planted between two frames when its lowest vertex is within
``CONTACT`` of the floor in both; its slide is how far its vertices' mean moves across the floor.
"""
from __future__ import annotations

import numpy as np

CONTACT = 0.02  # m above the floor at which a foot's lowest point counts as touching it
MAX_SLIDE = 0.02  # m per frame a planted foot may slide (Vera's people, VOID's human pairs)


def foot_slide(vertices: np.ndarray, feet: dict[str, np.ndarray], floor: float = 0.0,
               contact: float = CONTACT) -> np.ndarray:
    """(T - 1,) metres: per frame, the largest slide of a foot planted in it and the frame before
    (0 where no foot is planted). ``vertices`` (T, V, 3) world, Z up; ``feet`` names each foot's vertex
    indices."""
    slide = np.zeros(len(vertices) - 1)
    for index in feet.values():
        foot = vertices[:, index]
        down = foot[..., 2].min(axis=1) <= floor + contact
        moved = np.linalg.norm(np.diff(foot[..., :2].mean(axis=1), axis=0), axis=-1)
        slide = np.maximum(slide, np.where(down[1:] & down[:-1], moved, 0.0))
    return slide
