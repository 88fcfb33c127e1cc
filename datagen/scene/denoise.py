"""Intel Open Image Denoise on full frames, through the library Blender ships (``bpy/lib``).

Cycles can denoise inside a render, but then every rendered region is denoised on its own and a
spatial filter near a crop's edge sees different neighbours than in the full frame. So renders keep
their raw beauty and the guide passes (albedo, normal), regions are stitched into full frames, and
each frame is denoised here once, the way Blender does by default: the guides are cleaned first
("accurate" prefilter), then the beauty is filtered with clean guides (``cleanAux``) in HDR mode.

Nothing is downloaded: the weights are built into the library. ``threads`` only changes speed;
``tests/test_denoise.py`` checks that the output is the same at any thread count.
"""
from __future__ import annotations

import ctypes
from functools import lru_cache
from pathlib import Path

import numpy as np

DEVICE_CPU = 1
FORMAT_FLOAT3 = 3
QUALITY_HIGH = 6


@lru_cache(maxsize=1)
def _library() -> ctypes.CDLL:
    import bpy  # noqa: F401  (its lib/ holds OIDN; importing it also loads Blender's own copy)

    import importlib.util

    root = Path(importlib.util.find_spec("bpy").origin).parent / "lib"
    candidates = sorted(root.glob("libOpenImageDenoise.so*")) + sorted(root.glob("OpenImageDenoise.dll")) + \
        sorted(root.glob("libOpenImageDenoise*.dylib"))
    if not candidates:
        raise RuntimeError(f"Open Image Denoise not found in {root} (it ships with the bpy wheel)")
    lib = ctypes.CDLL(str(candidates[0]))
    p, s, i, b, z = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_bool, ctypes.c_size_t
    for name, res, args in (("oidnNewDevice", p, [i]), ("oidnSetDeviceInt", None, [p, s, i]),
                            ("oidnSetDeviceBool", None, [p, s, b]), ("oidnCommitDevice", None, [p]),
                            ("oidnGetDeviceError", i, [p, ctypes.POINTER(s)]), ("oidnReleaseDevice", None, [p]),
                            ("oidnNewFilter", p, [p, s]), ("oidnSetFilterBool", None, [p, s, b]),
                            ("oidnSetFilterInt", None, [p, s, i]),
                            ("oidnSetSharedFilterImage", None, [p, s, p, i, z, z, z, z, z]),
                            ("oidnCommitFilter", None, [p]), ("oidnExecuteFilter", None, [p]),
                            ("oidnReleaseFilter", None, [p])):
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    return lib


class Denoiser:
    """One OIDN CPU device; ``__call__`` denoises one frame. Reuse it across frames (building the
    filters is the slow part)."""

    def __init__(self, threads: int = 0):
        self.lib = _library()
        self.device = self.lib.oidnNewDevice(DEVICE_CPU)
        if threads > 0:
            self.lib.oidnSetDeviceInt(self.device, b"numThreads", int(threads))
        self.lib.oidnSetDeviceBool(self.device, b"setAffinity", False)
        self.lib.oidnCommitDevice(self.device)
        self._check()

    def _check(self) -> None:
        message = ctypes.c_char_p()
        if self.lib.oidnGetDeviceError(self.device, ctypes.byref(message)):
            raise RuntimeError(f"Open Image Denoise: {(message.value or b'error').decode()}")

    def _filter(self, images: dict[str, np.ndarray], **flags) -> None:
        f = self.lib.oidnNewFilter(self.device, b"RT")
        try:
            for name, array in images.items():
                h, w = array.shape[:2]
                self.lib.oidnSetSharedFilterImage(f, name.encode(), array.ctypes.data, FORMAT_FLOAT3, w, h, 0, 0, 0)
            for name, value in flags.items():
                self.lib.oidnSetFilterBool(f, name.encode(), bool(value))
            self.lib.oidnSetFilterInt(f, b"quality", QUALITY_HIGH)
            self.lib.oidnCommitFilter(f)
            self.lib.oidnExecuteFilter(f)
            self._check()
        finally:
            self.lib.oidnReleaseFilter(f)

    def __call__(self, color: np.ndarray, albedo: np.ndarray, normal: np.ndarray) -> np.ndarray:
        """Linear (H, W, 3) colour with its albedo and normal guides -> denoised linear (H, W, 3)."""
        color, albedo, normal = (np.ascontiguousarray(a[..., :3], dtype=np.float32) for a in (color, albedo, normal))
        if not (color.shape == albedo.shape == normal.shape):
            raise ValueError(f"colour {color.shape}, albedo {albedo.shape} and normal {normal.shape} differ")
        clean_albedo, clean_normal, out = np.empty_like(albedo), np.empty_like(normal), np.empty_like(color)
        self._filter({"albedo": albedo, "output": clean_albedo})
        self._filter({"normal": normal, "output": clean_normal})
        self._filter({"color": color, "albedo": clean_albedo, "normal": clean_normal, "output": out},
                     hdr=True, cleanAux=True)
        return out

    def close(self) -> None:
        if self.device:
            self.lib.oidnReleaseDevice(self.device)
            self.device = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass
