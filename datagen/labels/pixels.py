"""Small per-pixel helpers shared by the label modules."""
from __future__ import annotations

import numpy as np


def neighbour_count(mask: np.ndarray) -> np.ndarray:
    """How many of the 8 neighbours of each pixel of (..., H, W) ``mask`` are set."""
    h, w = mask.shape[-2:]
    padded = np.pad(mask.astype(np.uint8), [(0, 0)] * (mask.ndim - 2) + [(1, 1), (1, 1)])
    return sum(padded[..., dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)) - mask
