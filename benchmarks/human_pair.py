"""Where the time of one human-removal pair goes: body model, retarget + skinning, object library,
counterfactual physics, and the render passes (A, C, B from divergence).

    python benchmarks/human_pair.py [--sequence carry_mug] [--width 832 --height 480 --frames 49 --spp 16]

Runs on the procedural HUMOTO-format fixtures (or ``--root`` for a HUMOTO copy). Prints the
figures; nothing is asserted.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from datagen.core.cli import command
from datagen.void.pairs import MaskConfig, make_pair
from datagen.scene.spec import RenderSpec


@command
def main(argv=None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--root", default=None, help="HUMOTO sequences (default: the procedural fixtures)")
    p.add_argument("--sequence", default="carry_mug")
    p.add_argument("--width", type=int, default=832)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--frames", type=int, default=49)
    p.add_argument("--fps", type=int, default=16)
    p.add_argument("--spp", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)

    from datagen.assets import open_asset_source
    from datagen.humans import anny_body
    from datagen.humans.body import body_mesh
    from datagen.humans.fixtures import default_fixtures
    from datagen.void.human_scene import HumotoConfig, build_scene
    from datagen.scene.simulate import simulate

    root = Path(a.root) if a.root else default_fixtures()
    t = time.perf_counter()
    anny_body.anny_model()
    print(f"anny model (cached build):       {time.perf_counter() - t:7.2f} s")
    render = RenderSpec(width=a.width, height=a.height, spp=a.spp, seed=a.seed)
    t = time.perf_counter()
    scene = build_scene(np.random.default_rng(a.seed), str(root / a.sequence), render, a.frames, a.fps, 240,
                        HumotoConfig.defaults(), MaskConfig.defaults())
    print(f"scene (sequence, library, body): {time.perf_counter() - t:7.2f} s")
    from datagen.humans.body import _body_mesh
    _body_mesh.cache_clear()  # time the retarget and skinning on their own
    t = time.perf_counter()
    mesh = body_mesh(scene.spec.bodies[0], a.frames, a.fps)
    print(f"retarget + skin {a.frames} frames:       {time.perf_counter() - t:7.2f} s "
          f"({mesh.vertices.shape[1]} vertices)")
    source = open_asset_source(scene.spec.assets)
    t = time.perf_counter()
    counterfactual = simulate(scene.spec, source=source)
    print(f"counterfactual physics:          {time.perf_counter() - t:7.2f} s")
    t = time.perf_counter()
    pair = make_pair(scene.spec, ["person"], MaskConfig.defaults(dilation=2), source=source,
                     factual=scene.factual, counterfactual=counterfactual,
                     influenced={n: 0.0 for n in scene.factual.names})
    total = time.perf_counter() - t
    for name, seconds in pair.timings.items():
        print(f"  {name:<30} {seconds:7.2f} s")
    print(f"pair ({a.width}x{a.height}, {a.frames} frames, {a.spp} spp): {total:7.2f} s, "
          f"{pair.render_cost:.2f} full renders (divergence at frame {pair.comparison.divergence_frame})")


if __name__ == "__main__":
    sys.exit(main())
