"""Cost of Vera clips in units of one full render of the same clip.

    python benchmarks/vera_clip.py [--samples 3] [--width 832 --height 480 --frames 49 --spp 16]
    python benchmarks/vera_clip.py --width 208 --height 120 --frames 9 --spp 4 --no-region
    python benchmarks/vera_clip.py --subjects person       # people only (default: the config's weights)

A full render is the clip's input scene rendered once with Cycles (beauty layer only: what any
generator pays per video). For each sample (families and tasks follow the generator's stratified
schedule over family x task x subject kind: index 0 single object / background change / an object,
1 synthetic / addition / a person, 2 multi-object / addition / a person, ...; ``--subjects`` keeps one kind) this makes the sample exactly as the generator does, then renders its scene once
plainly, and prints the planned cost (passes x pixels, from the sample's metadata) and the measured
wall-clock ratio. A plate-and-full pair rendered naively costs 2.00. Nothing is asserted.
"""
from __future__ import annotations

import argparse
import sys
import time

from datagen.core.cli import command
from datagen.runner import load_config
from datagen.runner.config import task_config, to_plain
from datagen.core.seeds import derive_seed


def plain_render_seconds(sample: dict, threads: int, source) -> float:
    """Seconds for one warmed plain render of the sample's input scene (the set for synthetic samples), from the
    scene library the generator drew it from (``source``)."""
    from datagen.scene.render import SceneRenderer
    from datagen.scene.simulate import WorldStates, simulate
    from datagen.scene.spec import SceneSpec

    meta = sample["meta"]
    if "scene" in meta:
        spec, states = SceneSpec.from_dict(meta["scene"]), WorldStates.from_dict(meta["states"])
    elif meta.get("backgrounds") and meta["backgrounds"][0]["kind"] == "rendered":
        spec = SceneSpec.from_dict(meta["backgrounds"][0]["scene"])
        states = None
    else:
        return float("nan")
    spec.render.threads = threads
    states = states or simulate(spec, source=source)
    with SceneRenderer(spec, source=source) as r:
        r.set_states(states)
        r.render(layers=("rgb",), frames=[0])  # warm-up, as the sample's first pass pays it too
        t = time.perf_counter()
        r.render(layers=("rgb",))
        return time.perf_counter() - t


@command
def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--samples", type=int, default=3)
    p.add_argument("--first", type=int, default=0)
    p.add_argument("--width", type=int, default=832)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--frames", type=int, default=49)
    p.add_argument("--spp", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-region", action="store_true", help="render F in full (vera.region_render=false)")
    p.add_argument("--subjects", nargs="+", choices=("object", "person"), default=None,
                   help="subject kinds to draw (default: vera.subjects' weights)")
    a = p.parse_args(argv)

    import datagen.vera_layers as vera
    from datagen.assets.library import AssetsConfig, open_scene_library

    cfg = task_config(to_plain(load_config("vera_layers", [
        "out=memory://unused", f"render.width={a.width}", f"render.height={a.height}", f"render.frames={a.frames}",
        f"render.spp={a.spp}", f"seed={a.seed}", f"vera.region_render={not a.no_region}",
        "vera.meta_timings=true",
        *([f"vera.subjects.{k}={1.0 if k in a.subjects else 0.0}" for k in ("object", "person")] if a.subjects else [])
    ])), threads=a.threads)
    library = open_scene_library(AssetsConfig.from_section(cfg.assets))
    print(f"size {a.width}x{a.height}, {a.frames} frames, {a.spp} spp, {a.threads} threads, "
          f"region render {'off' if a.no_region else 'on'}")
    print(f"{'sample':>6}  {'family':<14} {'task':<18} {'subject':<7} {'planned':>8} {'wall s':>8} {'plain s':>8} "
          f"{'measured':>9}")
    planned, measured = [], []
    for i in range(a.first, a.first + a.samples):
        t = time.perf_counter()
        sample = vera.make_sample(cfg, i, derive_seed(a.seed, i))
        wall = time.perf_counter() - t
        plain = plain_render_seconds(sample, a.threads, library)
        m = sample["meta"]
        ratio = wall / plain if plain == plain else float("nan")
        planned.append(m["render_cost"])
        measured.append(ratio)
        print(f"{i:>6}  {m['family']:<14} {m['task']:<18} {m['subject_kind']:<7} {m['render_cost']:>8.2f} {wall:>8.1f} "
              f"{plain:>8.1f} {ratio:>9.2f}")
        for step in m["passes"]:
            share = step.get("pixel_share", 1.0)
            seconds = m["timings"].get(f"render_{step['name']}", float("nan"))
            print(f"{'':>8}pass {step['name']:<16} {'beauty' if step['beauty'] else 'labels':<7} "
                  f"{step['width']}x{step['height']} x {step['frames']} frames, pixel share {share:.2f}, "
                  f"{seconds:.1f} s ({seconds / plain:.2f})")
        rest = wall - sum(m["timings"].values())
        print(f"{'':>8}renderer setup {m['timings'].get('render_setup', 0):.1f} s, simulation + labels + "
              f"words {rest:.1f} s")
    print(f"mean planned cost {sum(planned) / len(planned):.2f} full renders per clip, "
          f"measured {sum(measured) / len(measured):.2f} (wall time incl. simulation, setup and labels)")


if __name__ == "__main__":
    sys.exit(main())
