"""An asset's size and resting pose from its manifest entry (no mesh loading): what scene samplers need to
place objects on the floor, on each other, and clear of each other."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
@dataclass
class Geometry:
    """An asset's centred bounds (metres, unscaled), from its manifest entry."""
    lower: np.ndarray
    upper: np.ndarray

    @property
    def size(self) -> np.ndarray:
        return self.upper - self.lower

    def rest_z(self, scale: float, surface: float = 0.0) -> float:
        """Height of the centre when the unrotated object stands on a surface at ``surface``."""
        return surface - float(self.lower[2]) * scale

    def top(self, z: float, scale: float) -> float:
        return z + float(self.upper[2]) * scale

    def radius(self, scale: float) -> float:
        """Horizontal half-diagonal: a safe clearance radius."""
        return float(np.linalg.norm(np.maximum(-self.lower[:2], self.upper[:2]))) * scale


def geometry(source, asset_id: str) -> Geometry:
    from datagen.assets.source import SceneLibrary

    lower, upper = SceneLibrary.of(source).bounds(asset_id)
    return Geometry(np.asarray(lower, float), np.asarray(upper, float))
