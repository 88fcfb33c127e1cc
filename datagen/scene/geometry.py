"""An asset's size and resting pose from its manifest entry (no mesh loading): what scene samplers need to
place objects on the floor, on each other, and clear of each other; and where world points fall in the
picture along a camera path."""
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


def project(camera, frames: int, width: int, height: int, points) -> np.ndarray:
    """Pixel (row, col) of world ``points`` (T, N, 3) along the camera path, NaN behind the camera.
    Same pinhole as Blender's (horizontal sensor fit, Z up)."""
    pts = np.asarray(points, np.float64)
    out = np.full(pts.shape[:-1] + (2,), np.nan)
    for t, (pos, target, focal) in enumerate(camera.poses(frames)):
        fwd = (target - pos) / np.linalg.norm(target - pos)
        right = np.cross(fwd, (0.0, 0.0, 1.0))
        right /= np.linalg.norm(right)
        up = np.cross(right, fwd)
        rel = pts[t] - pos
        z = rel @ fwd
        f_px = focal / camera.sensor_width * width
        ok = z > 1e-6
        out[t, ok, 0] = height / 2 - f_px * (rel[ok] @ up) / z[ok]
        out[t, ok, 1] = width / 2 + f_px * (rel[ok] @ right) / z[ok]
    return out
