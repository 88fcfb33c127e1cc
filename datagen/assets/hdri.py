"""HDR environment maps: read (OpenEXR, Radiance .hdr, the base64 EXR inside @pmndrs/assets' .js files),
clean (negative DWAB/resize ringing clamped to 0), analyse (the sun: the brightest direction and how
much of the light comes from it) and write the two images a scene uses: the full-resolution map that
lights it, and a *backdrop* for camera rays, blurred to what the map can show sharply.

Directions follow Blender's equirectangular mapping (checked against Cycles' source and by rendering):
pixel (row, col) of an H x W map, row 0 at the top, looks along

    u = (col + 0.5) / W,  v = 1 - (row + 0.5) / H,  azimuth = (0.5 - u) 2 pi,  elevation = (v - 0.5) pi
    direction = (cos(el) cos(az), cos(el) sin(az), sin(el))          (world, Z up)

and a world rotation of ``theta`` about Z (the Mapping node's Rotation, as Kubric wires it) shows a map
direction ``d`` at ``rotate_z(d, -theta)``.
"""
from __future__ import annotations

import base64
import math
import re
from pathlib import Path

import numpy as np

from datagen.core.rotations import rotate_z

LUMA = np.array([0.2126, 0.7152, 0.0722], np.float64)


# -- reading ----------------------------------------------------------------------------------------

def read_exr(path: str | Path) -> np.ndarray:
    """float32 (H, W, 3) linear RGB of an OpenEXR file (RGB or R/G/B channels), top row first."""
    import OpenEXR

    with OpenEXR.File(str(path)) as f:
        channels = f.channels()
        if "RGB" in channels:
            rgb = channels["RGB"].pixels
        elif {"R", "G", "B"} <= set(channels):
            rgb = np.stack([channels[c].pixels for c in "RGB"], axis=-1)
        elif "RGBA" in channels:
            rgb = channels["RGBA"].pixels[..., :3]
        else:
            raise ValueError(f"{path}: no RGB channels (has {sorted(channels)})")
    return np.asarray(rgb, np.float32)


def read_hdr(path: str | Path) -> np.ndarray:
    """float32 (H, W, 3) of a Radiance RGBE file (flat or new-style run-length encoded), top row first."""
    data = Path(path).read_bytes()
    if not data.startswith((b"#?RADIANCE", b"#?RGBE")):
        raise ValueError(f"{path}: not a Radiance .hdr file")
    pos = data.index(b"\n\n") + 2
    end = data.index(b"\n", pos)
    m = re.match(r"-Y (\d+) \+X (\d+)", data[pos:end].decode("ascii"))
    if not m:
        raise ValueError(f"{path}: unsupported .hdr orientation {data[pos:end]!r}")
    h, w = int(m.group(1)), int(m.group(2))
    buf = np.frombuffer(data, np.uint8, offset=end + 1)
    if buf.size == h * w * 4:
        rgbe = buf.reshape(h, w, 4)
    else:
        rgbe = np.empty((h, w, 4), np.uint8)
        i = 0
        for y in range(h):
            if buf[i] != 2 or buf[i + 1] != 2 or (int(buf[i + 2]) << 8 | int(buf[i + 3])) != w:
                raise ValueError(f"{path}: unsupported .hdr encoding at row {y}")
            i += 4
            for c in range(4):
                x = 0
                row = rgbe[y, :, c]
                while x < w:
                    n = int(buf[i])
                    i += 1
                    if n > 128:
                        n -= 128
                        row[x:x + n] = buf[i]
                        i += 1
                    else:
                        row[x:x + n] = buf[i:i + n]
                        i += n
                    x += n
    e = rgbe[..., 3].astype(np.int32)
    scale = np.where(e == 0, 0.0, np.ldexp(1.0, e - 136)).astype(np.float32)
    return rgbe[..., :3].astype(np.float32) * scale[..., None]


def exr_from_js(path: str | Path) -> bytes:
    """The EXR bytes @pmndrs/assets embeds in ``hdri/<name>.exr.js`` (``export default 'data:...;base64,...'``)."""
    text = Path(path).read_text()
    m = re.search(r"base64,([A-Za-z0-9+/=]+)", text)
    if not m:
        raise ValueError(f"{path}: no base64 data URL")
    return base64.b64decode(m.group(1))


def read_image(path: str | Path) -> np.ndarray:
    """float32 linear (H, W, 3), negatives and non-finite values cleaned to 0 (DWAB and resize ringing
    leave negative pixels down to about -3900 in some maps: light cannot be negative)."""
    path = Path(path)
    if path.suffix.lower() == ".hdr":
        rgb = read_hdr(path)
    elif path.name.endswith(".exr.js"):
        import tempfile

        with tempfile.NamedTemporaryFile(suffix=".exr") as tmp:
            tmp.write(exr_from_js(path))
            tmp.flush()
            rgb = read_exr(tmp.name)
    else:
        rgb = read_exr(path)
    return np.where(np.isfinite(rgb) & (rgb > 0), rgb, 0.0).astype(np.float32)


def write_exr(path: str | Path, rgb: np.ndarray, half: bool = True) -> Path:
    """A lossless (ZIP) OpenEXR of linear RGB; half floats unless ``half=False``."""
    import OpenEXR

    pixels = np.ascontiguousarray(np.clip(rgb, 0, 65000) if half else rgb, np.float16 if half else np.float32)
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    OpenEXR.File(header, {"RGB": pixels}).write(str(path))
    return Path(path)


# -- geometry of the map ----------------------------------------------------------------------------

def pixel_direction(row: float, col: float, height: int, width: int) -> np.ndarray:
    """The world direction (map frame, before any rotation) a pixel of an equirectangular map looks along."""
    u, v = (col + 0.5) / width, 1.0 - (row + 0.5) / height
    az, el = (0.5 - u) * 2 * math.pi, (v - 0.5) * math.pi
    return np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])


def world_direction(direction, rotation: float) -> np.ndarray:
    """Where a map direction appears once the environment is turned by ``rotation`` about Z."""
    return rotate_z(np.asarray(direction, float), -rotation)


def _solid_angles(height: int, width: int) -> np.ndarray:
    """(H, 1) solid angle of each pixel row (cos(elevation) weighting)."""
    el = (0.5 - (np.arange(height) + 0.5) / height) * math.pi
    return (np.cos(el) * (math.pi / height) * (2 * math.pi / width))[:, None]


def _box_blur(x: np.ndarray, radius: int, axis: int, wrap: bool) -> np.ndarray:
    if radius <= 0:
        return x
    pad = [(0, 0)] * x.ndim
    pad[axis] = (radius, radius)
    padded = np.pad(x, pad, mode="wrap" if wrap else "edge")
    c = np.cumsum(padded, axis=axis, dtype=np.float64)
    c = np.concatenate([np.zeros_like(np.take(c, [0], axis=axis)), c], axis=axis)
    n = x.shape[axis]
    hi = np.take(c, np.arange(2 * radius + 1, 2 * radius + 1 + n), axis=axis)
    lo = np.take(c, np.arange(0, n), axis=axis)
    return ((hi - lo) / (2 * radius + 1)).astype(x.dtype)


def blur(rgb: np.ndarray, sigma: float) -> np.ndarray:
    """An approximately Gaussian blur of standard deviation ``sigma`` pixels (three box passes whose
    variances add up to sigma^2); wraps around horizontally, as the map does."""
    out = rgb.astype(np.float32)
    if sigma <= 0:
        return out
    radius = max(1, int(round((math.sqrt(1 + 4 * sigma ** 2) - 1) / 2)))  # 3 boxes: variance r(r+1)
    for _ in range(3):
        out = _box_blur(_box_blur(out, radius, 1, True), radius, 0, False)
    return out


def analyse(rgb: np.ndarray) -> dict:
    """The map's sun: the direction of its brightest (slightly blurred) pixel, its elevation, and the
    share of all the light (irradiance over the sphere) that comes from within 10 degrees of it: near 1
    for a clear sky's sun, small for overcast or interior maps. Also the mean radiance."""
    h, w, _ = rgb.shape
    lum = rgb.astype(np.float64) @ LUMA
    smooth = blur(lum[..., None].astype(np.float32), max(1.0, w / 512))[..., 0]
    row, col = np.unravel_index(int(np.argmax(smooth)), smooth.shape)
    d = pixel_direction(row, col, h, w)
    el = (0.5 - (np.arange(h) + 0.5) / h) * math.pi
    az = (0.5 - (np.arange(w) + 0.5) / w) * 2 * math.pi
    dirs = np.stack(np.broadcast_arrays(np.cos(el)[:, None] * np.cos(az)[None], np.cos(el)[:, None] * np.sin(az)[None],
                                        np.sin(el)[:, None]), axis=-1)
    power = lum * _solid_angles(h, w)
    near = dirs @ d > math.cos(math.radians(10))
    total = float(power.sum()) or 1.0
    return {"sun_direction": [round(float(v), 6) for v in d], "sun_elevation": round(float(math.asin(d[2])), 6),
            "sun_share": round(float(power[near].sum()) / total, 6),
            "mean_radiance": round(float((power.sum() / (4 * math.pi))), 6), "resolution": [int(w), int(h)]}


CAMERA_PX_PER_RADIAN = 832 / math.radians(55)  # the default camera: 832 px across about 55 degrees


def backdrop_blur(width: int, camera_px_per_radian: float = CAMERA_PX_PER_RADIAN) -> float:
    """The blur (sigma, in map pixels) that turns the map into a defocused backdrop where the camera
    would magnify it: none while the map has at least 2/3 of the camera's pixels per radian (a 4K map),
    else growing with the magnification, as a lens focused on the objects would blur a far background."""
    magnification = camera_px_per_radian / (width / (2 * math.pi))
    return 0.0 if magnification <= 1.5 else float(min(2.0 + magnification / 2, 8.0))
