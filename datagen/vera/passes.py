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

    def render_region(self, name: str, layers, visibility, boxes, plate: dict, threshold: float = 2.0
                      ) -> tuple[dict, dict]:
        """A pass rendered only inside per-frame ``boxes`` and stitched into ``plate`` (a full pass with
        ``scene.region.base_layers``), one denoise per stitched frame; a frame whose change still reaches
        its box's edge grows there, then is rendered in full (``datagen.scene.region``). Returns (layers, report)."""
        from datagen.scene.region import render_region

        t0 = time.perf_counter()
        out, report = render_region(self.renderer, visibility, layers, boxes, plate, threshold=threshold)
        self.passes._time(f"render_{name}", time.perf_counter() - t0)
        r = self.renderer.spec.render
        share = round(report["beauty_pixels"] / (r.width * r.height * report["frames"]), 4)
        self.passes.log.append({"name": name, "frames": report["frames"], "width": r.width, "height": r.height,
                                "beauty": True, "layers": list(layers), "pixel_share": share,
                                "hidden": sorted(k for k, v in (visibility or {}).items() if v == "hidden")})
        return out, {"pixel_share": share, "grown_frames": report["grown_frames"], "full_frames": report["full_frames"]}
