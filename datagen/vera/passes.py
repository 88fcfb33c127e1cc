"""Render passes of one Vera sample, with the bill: every pass is logged with its size and frame
count, so a sample's cost in units of one full render (the clip once at full size, beauty layer)
is exact and deterministic; wall-clock seconds go to the runner's per-stage timings."""
from __future__ import annotations

import time
from contextlib import contextmanager

import numpy as np

from datagen.core.timing import record


class Passes:
    def __init__(self, source, width: int, height: int, frames: int):
        self.source, self.width, self.height, self.frames = source, width, height, frames
        self.log: list[dict] = []
        self.asset_ids: set[str] = set()  # every asset of every spec rendered (for the credits)
        self.seconds: dict[str, float] = {}

    def _time(self, name: str, seconds: float) -> None:
        record(name, seconds)
        self.seconds[name] = round(self.seconds.get(name, 0.0) + seconds, 3)

    @contextmanager
    def scene(self, spec, states):
        """A SceneRenderer for ``spec`` with ``states`` keyed; render passes with ``.render``."""
        from datagen.assets.library import spec_asset_ids
        from datagen.scene.render import SceneRenderer  # Blender only where pixels are made

        self.asset_ids.update(a for a in spec_asset_ids(spec) if a)
        t = time.perf_counter()
        with SceneRenderer(spec, source=self.source) as renderer:
            renderer.set_states(states)
            self._time("render_setup", time.perf_counter() - t)
            yield _Scene(self, renderer)

    def render(self, spec, states, name: str, layers=("rgb",), visibility=None) -> dict:
        """One pass in a scene of its own."""
        with self.scene(spec, states) as s:
            return s.render(name, layers, visibility)

    @property
    def cost(self) -> float:
        """Beauty passes in units of one full render (frames x pixels relative to the clip's)."""
        full = self.width * self.height * self.frames
        return round(sum(p["frames"] * p["width"] * p["height"] * p.get("pixel_share", 1.0) / full
                         for p in self.log if p["beauty"]), 4)

    def bill(self) -> dict:
        return {"render_cost": self.cost, "passes": list(self.log),
                "label_passes": sum(1 for p in self.log if not p["beauty"])}


class _Scene:
    def __init__(self, passes: Passes, renderer):
        self.passes, self.renderer = passes, renderer

    def render(self, name: str, layers=("rgb",), visibility=None, frames=None) -> dict:
        t = time.perf_counter()
        out = self.renderer.render(visibility, layers=layers, frames=frames)
        self.passes._time(f"render_{name}", time.perf_counter() - t)
        r = self.renderer.spec.render
        n = self.renderer.spec.frames if frames is None else len(list(frames))
        self.passes.log.append({"name": name, "frames": n, "width": r.width, "height": r.height,
                                "beauty": bool({"rgb", "rgba"} & set(layers)), "layers": list(layers),
                                "hidden": sorted(k for k, v in (visibility or {}).items() if v == "hidden")})
        return out

    def render_region(self, name: str, layers, visibility, boxes, plate: dict, threshold: float = 2.0,
                      min_neighbours: int = 2) -> tuple[dict, dict]:
        """A pass rendered only inside per-frame ``boxes`` (row0, row1, col0, col1) with Cycles'
        border; outside, ``plate``'s rgb (label layers: 0). A frame whose change still reaches the
        box's edge (``region.leaks``) is rendered in full. Returns (layers, report)."""
        from datagen.vera.region import leaks

        spec = self.renderer.spec
        h, w, frames = spec.render.height, spec.render.width, spec.frames
        parts, pixels, fallback, t0 = [], 0, [], time.perf_counter()
        for f in range(frames):
            r0, r1, c0, c1 = (int(v) for v in boxes[f])
            area = max(0, r1 - r0) * max(0, c1 - c0)
            if area == 0:  # nothing of the subject's reaches the picture
                parts.append(None)
                continue
            if area < 0.9 * h * w:
                part = self._border_render(visibility, layers, f, (r0, r1, c0, c1))
                merged = plate["rgb"][f].copy()
                merged[r0:r1, c0:c1] = part["rgb"][0, r0:r1, c0:c1]
                if not leaks(merged, plate["rgb"][f], (r0, r1, c0, c1), threshold, min_neighbours):
                    pixels += area
                    parts.append((part, (r0, r1, c0, c1)))
                    continue
                pixels += area  # wasted: the effect leaks out of the box
                fallback.append(f)
            pixels += h * w
            parts.append((self.renderer.render(visibility, layers=layers, frames=[f]), (0, h, 0, w)))
        out = {}
        for k in layers:
            done = [p for p in parts if p is not None]
            like = done[0][0][k][0] if done else np.zeros((h, w), np.uint16)
            out[k] = plate[k].copy() if k in plate else np.zeros((frames,) + like.shape, like.dtype)
            for f, p in enumerate(parts):
                if p is not None:
                    (r0, r1, c0, c1) = p[1]
                    out[k][f, r0:r1, c0:c1] = p[0][k][0, r0:r1, c0:c1]
        self.passes._time(f"render_{name}", time.perf_counter() - t0)
        share = round(pixels / (h * w * frames), 4)
        self.passes.log.append({"name": name, "frames": frames, "width": w, "height": h, "beauty": True,
                                "layers": list(layers), "pixel_share": share,
                                "hidden": sorted(k for k, v in (visibility or {}).items() if v == "hidden")})
        return out, {"pixel_share": share, "full_frames": fallback}

    def _border_render(self, visibility, layers, frame: int, box) -> dict:
        """One frame rendered only inside ``box`` (Cycles' border, exact pixel edges, not cropped)."""
        from datagen.scene.render import bpy

        r0, r1, c0, c1 = box
        h, w = self.renderer.spec.render.height, self.renderer.spec.render.width
        settings = bpy.context.scene.render
        settings.use_border, settings.use_crop_to_border = True, False
        settings.border_min_x, settings.border_max_x = c0 / w, c1 / w
        settings.border_min_y, settings.border_max_y = (h - r1) / h, (h - r0) / h
        try:
            return self.renderer.render(visibility, layers=layers, frames=[frame])
        finally:
            settings.use_border = False
