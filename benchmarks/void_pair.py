"""Cost of VOID pairs in units of one plain full render of the same scene, per rigid family.

    python benchmarks/void_pair.py [--families launch support chain blocker] [--width 832 --height 480
                                    --frames 49] [--no-region] [--effects-pass] [--oracle]

A plain full render is the clip rendered once with Cycles at the run's settings (beauty layer only, what any
generator pays per video), timed warmed: after the pair is made, in the same process, on a renderer whose
first frame has been rendered once (kernels, BVH and images loaded), so that neither side pays a cold start.
VOID's own generator renders three full passes per pair (A, C and B): 3.0. Ours renders A in full and C and
B only inside the boxes where they can differ from A (``datagen/scene/region.py``; ``--no-region``: C in
full and B from the frame before physics diverges).

Prints per family (the effects family with each pair's category) the planned ``render_cost`` (beauty pixels
of A, C and B rendered / (frames x width x height), as each sample's meta records it), beside it the
effect-category label passes' ``label_cost`` and their spp, the region passes' grown and full-frame fallback
frames, and the measured wall time of each pass and of A, C and B together against the plain render (renderer
setup, simulation and labels apart). Nothing is asserted. Full size takes a while on 2 cores.

``--oracle`` also renders A, C and B in full and prints what a perfect region predictor would pay: 1 + the
bounding box, per frame, of where C really differs from A and B from C (the change averaged over 9x9 pixels
above 2 grey levels, the seam rule's own measure) -- the floor under any one-box-per-frame plan.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from datagen.core.cli import command

FAMILIES = ("launch", "support", "chain", "blocker", "effects")


def oracle_cost(spec, states, counterfactual, removed, start, source) -> float:
    """1 + the per-frame bounding boxes of the real change (C vs A, and B vs C from ``start``) over the clip."""
    from datagen.scene.region import averaged_change
    from datagen.scene.render import SceneRenderer

    hidden = {n: "hidden" for n in removed}
    with SceneRenderer(spec, source=source) as r:
        r.set_states(states)
        a = r.render(layers=("rgb_raw",))["rgb_raw"]
        c = r.render(hidden, layers=("rgb_raw",))["rgb_raw"]
        b = c
        if start is not None:
            r.set_states(counterfactual)
            b = np.concatenate([c[:start], r.render(hidden, layers=("rgb_raw",), frames=range(start, spec.frames))["rgb_raw"]])
    area = 0
    for full, base in ((c, a), (b, c)):
        for t in range(spec.frames):
            rows, cols = np.nonzero(np.abs(averaged_change(full[t], base[t])) > 2.0)
            area += (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1) if len(rows) else 0
    return 1.0 + area / (spec.frames * spec.render.width * spec.render.height)


def plain_seconds(spec, states, source) -> float:
    """One warmed plain render of the clip (beauty only, the delivered frames: denoised when the run is)."""
    from datagen.scene.render import SceneRenderer

    with SceneRenderer(spec, source=source) as r:
        r.set_states(states)
        r.render(layers=("rgb",), frames=[0])
        t = time.perf_counter()
        r.render(layers=("rgb",))
        return time.perf_counter() - t


@command
def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--families", nargs="+", default=list(FAMILIES), help=f"of {FAMILIES}")
    p.add_argument("--width", type=int, default=832)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--frames", type=int, default=49)
    p.add_argument("--fps", type=int, default=16)
    p.add_argument("--spp", type=int, default=None, help="default: base.yaml's render.spp")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--samples", type=int, default=1, help="scenes per family (seeds seed, seed+1, ...)")
    p.add_argument("--no-region", action="store_true", help="C in full, B from divergence (void.region_render=false)")
    p.add_argument("--effects-pass", action="store_true", help="also render the shadow-only pass E")
    p.add_argument("--oracle", action="store_true", help="also the cost of perfect boxes (renders A, C, B in full)")
    a = p.parse_args(argv)
    unknown = sorted(set(a.families) - set(FAMILIES))
    if unknown:
        raise ValueError(f"--families {' '.join(unknown)}: no such family; choose from {', '.join(FAMILIES)}")

    from datagen.assets.library import AssetsConfig, open_scene_library
    from datagen.scene.spec import RenderSpec
    from datagen.void.families import sample_pair_scene
    from datagen.void.pairs import MaskConfig, make_pair

    library = open_scene_library(AssetsConfig.defaults())
    cfg = MaskConfig.defaults(render_effects_pass=a.effects_pass)
    render = RenderSpec(width=a.width, height=a.height, threads=a.threads, seed=a.seed,
                        **({"spp": a.spp} if a.spp else {}))
    print(f"size {a.width}x{a.height}, {a.frames} frames, {render.spp} spp, denoise {render.denoise}, "
          f"region render {'off' if a.no_region else 'on'}")
    print("| family | seed | removed / affected | divergence | render_cost | label_cost (spp) | grown frames C, B |"
          " fallback frames C, B | A+C+B / plain (wall) | A | C | B | categories |" + (" perfect boxes |" if a.oracle else ""))
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if a.oracle else ""))
    costs, labels, ratios, oracles = [], [], [], []
    for family, seed in [(f, a.seed + i) for f in a.families for i in range(a.samples)]:
        scene, factual, _ = sample_pair_scene(np.random.default_rng(seed), library, render, a.frames, a.fps,
                                              {family: 1.0}, 0.0, cfg)
        pair = make_pair(scene.spec, scene.removed, cfg, source=library, factual=factual, region=not a.no_region)
        plain = plain_seconds(scene.spec, factual, library)
        passes = {k: v for k, v in pair.timings.items() if k.startswith("render_") and k != "render_setup"}
        ratio = sum(passes.get(f"render_{k}", 0.0) for k in ("A", "C", "B", "E")) / plain
        costs.append(pair.render_cost)
        labels.append(pair.label_cost)
        ratios.append(ratio)
        if a.oracle:
            d = pair.comparison.divergence_frame
            oracles.append(oracle_cost(scene.spec, factual, pair.counterfactual, scene.removed,
                                       None if d is None else max(d - 1, 0), library))
        regions = [pair.render_report.get(k) for k in ("C", "B")]
        fallback = ", ".join(str(len(r["full_frames"])) if r else "-" for r in regions)
        grown = ", ".join(str(r["grown_frames"]) if r else "-" for r in regions)
        categories = pair.render_report.get("categories", {})
        name = family + (f" ({scene.story['effect_category']})" if "effect_category" in scene.story else "")
        print(f"| {name} | {seed} | {len(scene.removed)} / {len(pair.comparison.affected)} | "
              f"{pair.comparison.divergence_frame} | {pair.render_cost:.2f} | "
              f"{pair.label_cost:.2f} ({categories.get('spp', '-')}) | {grown} | {fallback} | {ratio:.2f} | "
              + " | ".join(f"{passes.get(f'render_{k}', 0.0) / plain:.2f}" for k in ("A", "C", "B", "categories")) + " |"
              + (f" {oracles[-1]:.2f} |" if a.oracle else ""), flush=True)
    print(f"\nmean render_cost {sum(costs) / len(costs):.2f} full renders per pair (label passes beside it: "
          f"{sum(labels) / len(labels):.2f}), mean wall ratio of A, C and B "
          f"{sum(ratios) / len(ratios):.2f} (VOID's generator: 3 full passes, 3.00)"
          + (f"; perfect boxes {sum(oracles) / len(oracles):.2f}" if a.oracle else ""))


if __name__ == "__main__":
    sys.exit(main())
