"""Cost of one VOID pair in units of one plain full render of the same scene.

    python benchmarks/void_pair.py [--family launch] [--width 832 --height 480 --frames 49 --spp 16]

A plain full render is the clip rendered once with Cycles (beauty layer only, what any
generator pays per video). VOID's own generator renders three full passes per pair (A, C and B),
so it pays 3.0. Ours renders A and C fully, B only from the frame before physics diverges, and
labels from the 1-sample label layer; ``--effects-pass`` adds a real E pass for comparison.
Prints the per-pass breakdown; nothing is asserted. Full size takes a while on 2 cores.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from datagen.assets import open_asset_source
from datagen.core.cli import command
from datagen.void.pairs import MaskConfig, make_pair
from datagen.void.families import sample_pair_scene
from datagen.scene.spec import RenderSpec


@command
def main(argv=None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--family", default="launch")
    p.add_argument("--width", type=int, default=832)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--frames", type=int, default=49)
    p.add_argument("--fps", type=int, default=16)
    p.add_argument("--spp", type=int, default=16)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--effects-pass", action="store_true")
    a = p.parse_args(argv)

    source = open_asset_source(None)
    cfg = MaskConfig.defaults(render_effects_pass=a.effects_pass)
    render = RenderSpec(width=a.width, height=a.height, spp=a.spp, threads=a.threads, seed=a.seed)
    scene, factual, _ = sample_pair_scene(np.random.default_rng(a.seed), source, render, a.frames, a.fps,
                                          {a.family: 1.0}, 0.0, cfg)
    from datagen.scene.render import SceneRenderer
    with SceneRenderer(scene.spec, source=source) as r:
        r.set_states(factual)
        r.render(layers=("rgb",), frames=[0])  # warm-up, as make_pair's first pass pays it too
        t = time.perf_counter()
        r.render(layers=("rgb",))
        plain = time.perf_counter() - t
    t = time.perf_counter()
    pair = make_pair(scene.spec, scene.removed, cfg, source=source, factual=factual)
    total = time.perf_counter() - t

    print(f"scene: {a.family}, {len(scene.spec.objects)} objects, removed {scene.removed}, "
          f"affected {pair.comparison.affected}, divergence frame {pair.comparison.divergence_frame}")
    print(f"size: {a.width}x{a.height}, {a.frames} frames, {a.spp} spp")
    print(f"plain full render   {plain:8.1f} s  (1.00)")
    for stage, seconds in pair.timings.items():
        print(f"  {stage:<17} {seconds:8.1f} s  ({seconds / plain:.2f})")
    print(f"pair total          {total:8.1f} s  ({total / plain:.2f} plain renders; VOID's generator: 3.00)")
    print(f"planned passes      {pair.render_cost:.2f} full renders")


if __name__ == "__main__":
    sys.exit(main())
