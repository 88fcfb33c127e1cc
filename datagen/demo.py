"""``make demo``: the main jobs on embedded defaults, small enough for a laptop.

1. a random physics scene: asset library (built once), PyBullet, Cycles, preview (frames,
   segmentation, depth, GIF) -> demo_out/physics_scene/
2. a small VOID counterfactual set through the runner, validated, with a contact sheet and GIF per
   pair and an HTML audit report -> demo_out/void/, demo_out/void/preview/, demo_out/void/audit/
3. two pairs of the effects family (side effects beyond shadows, with their per-pixel categories as the
   contact sheets' last column), validated, previewed and audited -> demo_out/void_effects/
   two human-removal pairs from the procedural HUMOTO-format fixtures (anny body), validated,
   previewed and audited -> demo_out/void_humans/
4. a small Vera layered set (one clip per family), validated, with contact sheets and GIFs
   (input | edit over checkerboard | alpha | composite) and an HTML audit report
   -> demo_out/vera/data/, demo_out/vera/preview/, demo_out/vera/audit/
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from datagen.core.cli import command


def physics_scene_demo(out: Path, seed: int, width: int, height: int, frames: int, spp: int) -> list[Path]:
    from datagen.assets.library import AssetsConfig, open_scene_library
    from datagen.core.pictures import frame_grid, hstack, id_colors, save_gif, save_png, vstack
    from datagen.scene.random_scene import random_physics_scene
    from datagen.scene.simulate import simulate
    from datagen.scene.spec import RenderSpec

    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    source = open_scene_library(AssetsConfig.defaults())  # real objects and HDRIs wherever installed
    spec = random_physics_scene(seed, asset_ids=source.all_asset_ids, frames=frames, fps=12,
                                render=RenderSpec(width=width, height=height, spp=spp, seed=seed), source=source)
    print(f"demo: scene with {len(spec.objects)} objects "
          f"({', '.join(o.asset_id for o in spec.objects)}), camera {spec.camera.motion}, "
          f"{spec.environment.hdri or 'procedural sky'}, floor {spec.environment.floor}")
    states = simulate(spec, source=source)
    print(f"demo: simulated {frames} frames in {states.seconds:.2f} s, "
          f"{len(states.collisions)} contact onsets")
    from datagen.scene.render import SceneRenderer  # imports Blender
    with SceneRenderer(spec, source=source) as renderer:
        renderer.set_states(states)
        t1 = time.perf_counter()
        layers = renderer.render(layers=("rgb", "segmentation", "depth"))
        print(f"demo: rendered {frames} frames at {width}x{height}, {spp} spp in "
              f"{time.perf_counter() - t1:.1f} s")
    (out / "scene.json").write_text(spec.to_json(indent=1))
    (out / "states.json").write_text(json.dumps(states.to_dict()))
    preview = vstack([frame_grid(layers["rgb"]),
                      frame_grid(np.stack([hstack([id_colors(s), d]) for s, d in
                                           zip(layers["segmentation"], layers["depth"])]), cols=2)])
    paths = [save_png(out / "preview.png", preview), save_gif(out / "preview.gif", layers["rgb"], fps=12)]
    print(f"demo: physics scene done in {time.perf_counter() - t0:.1f} s")
    return paths


def void_demo(out: Path, seed: int, width: int, height: int, frames: int, spp: int, num_samples: int = 4,
              extra=(), label: str = "VOID") -> list[Path]:
    from datagen.dataset.preview import write_previews
    from datagen.runner import load_config, run
    from datagen.runner.validate import validate

    overrides = [f"out={out}", f"num_samples={num_samples}", "samples_per_shard=2", f"seed={seed}",
                 "runner.mode=local", f"render.width={width}", f"render.height={height}",
                 f"render.frames={frames}", f"render.spp={spp}", "render.fps=12", *extra]
    result = run(load_config("void_counterfactuals", overrides))
    if not result.ok:
        raise SystemExit(f"demo: {label} generation failed, see {out}/dataset.json")
    passed, failed = validate(str(out))
    print(f"demo: {label} set validated: {passed} passed, {failed} failed")
    if failed:
        raise SystemExit(f"demo: {label} validation failed")
    from datagen.audit import write_report
    report = write_report(str(out), out / "audit" / "report.html")
    print(f"demo: {label} audit report at {report}")
    return [*write_previews(str(out), out / "preview", limit=num_samples), report]


def vera_demo(out, num_samples: int = 3, width: int = 208, height: int = 120, frames: int = 9, spp: int = 4,
              seed: int = 0, cpus: int = 2) -> list[Path]:
    """``make demo``'s Vera part: a small dataset (one sample per family with the default
    weights), validated, with previews in ``OUT/preview``."""
    from datagen.runner import load_config, run
    from datagen.runner.validate import validate

    out = Path(out)
    t0 = time.perf_counter()
    cfg = load_config("vera_layers", [f"out={out / 'data'}", f"num_samples={num_samples}",
                                      f"samples_per_shard={num_samples}", f"seed={seed}", "runner.mode=local",
                                      f"runner.cpus_per_task={cpus}", "runner.progress=false",
                                      f"render.width={width}", f"render.height={height}",
                                      f"render.frames={frames}", f"render.spp={spp}"])
    if not run(cfg).ok:
        raise RuntimeError(f"vera demo: generation failed (see {out / 'data'})")
    failures: list[str] = []
    passed, failed = validate(str(out / "data"), emit=failures.append)
    if failed:
        raise RuntimeError(f"vera demo: {failed} samples fail validation: {failures[:3]}")
    from datagen.vera.preview import write_previews

    paths = write_previews(str(out / "data"), out / "preview", limit=num_samples)
    print(f"demo: vera layered set, {passed} samples validated, previews in {out / 'preview'} "
          f"({time.perf_counter() - t0:.1f} s)")
    return paths


@command
def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("demo_out"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--width", type=int, default=416)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--spp", type=int, default=16)
    args = parser.parse_args(argv)
    paths = physics_scene_demo(args.out / "physics_scene", args.seed, args.width, args.height,
                               args.frames, args.spp)
    paths += void_demo(args.out / "void", args.seed, args.width // 2, args.height // 2, 13, args.spp)
    paths += void_demo(args.out / "void_effects", args.seed, args.width // 2, args.height // 2, 13, args.spp,
                       num_samples=2, extra=[*(f"void.families.{f}={int(f == 'effects')}" for f in
                                               ("launch", "support", "chain", "blocker", "effects")),
                                             "void.negative_rate=0"], label="VOID effects")
    paths += void_demo(args.out / "void_humans", args.seed, args.width // 2, args.height // 2, 13, args.spp,
                       num_samples=2, extra=["source=humoto"], label="VOID human-removal")
    paths += vera_demo(args.out / "vera", num_samples=3, width=args.width // 2, height=args.height // 2,
                       frames=9, spp=args.spp // 2, seed=args.seed)
    from datagen.audit import write_report
    report = write_report(str(args.out / "vera" / "data"), args.out / "vera" / "audit" / "report.html")
    print(f"demo: Vera audit report at {report}")
    paths.append(report)
    for p in paths:
        print(f"wrote {p}")


if __name__ == "__main__":
    sys.exit(main())
