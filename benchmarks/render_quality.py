"""Render quality against cost: Cycles settings (samples per pixel x OIDN denoiser x adaptive sampling) on
real-asset scenes, scored against a high-spp reference of the same frames, then the cheapest setting that
meets the targets.

    python benchmarks/render_quality.py [--width 832 --height 480 --frames 5 --ref-spp 1024] [--scenes ...]

Scenes (the scene library's real assets; each with an orbiting camera, so noise that sticks to the screen
shows as flicker): ``hdri_checker`` (a VOID launch scene under an HDRI over a checker floor),
``hdri_marble`` (a support scene over marble), ``hdri_photo`` (a photographic floor), ``glossy_mirror`` and
``glossy_tiles`` (Vera multi-object scenes on glossy floors), ``lamp`` (small bright point lamps at dusk).
Figures per setting and scene: seconds per frame (warmed: the scene is built and one frame rendered before
timing), PSNR and SSIM of the sRGB frames against the reference, and temporal stability: the mean absolute
difference between each frame and the previous one warped along the render's backward flow (1-sample label
layer, exact), as a ratio to the reference's own (<= 1: at least as stable as the reference).

Targets (issue "clean renders"): median PSNR >= 40 dB over the scenes (the worst is reported), time per frame
<= today's default (16 spp, no denoiser), stability ratio <= 1. Prints the table (markdown) and the chosen
setting; nothing is asserted. Every setting renders through the generators' own pipeline
(``SceneRenderer``: the raw render, then OIDN with albedo and normal guides, Blender's default prefilter, on
the full frame; adaptive sampling at threshold ``ADAPTIVE_THRESHOLD``). Full size takes about an hour on 2
cores with ``--frames 2 --ref-spp 512``: the reference dominates.
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import statistics
import sys
import time

import numpy as np

from datagen.core.cli import command

TODAY = (16, False, False)  # spp, denoise, adaptive: the generators' default before this benchmark
SCENES = ("hdri_checker", "hdri_marble", "hdri_photo", "glossy_mirror", "glossy_tiles", "lamp")


CLIP = 25  # frames simulated (the samplers need time for physics to tell their story); the middle ones render


def build_scene(name: str, library, render, frames: int, seed: int):
    """(SceneSpec, WorldStates) of one benchmark scene, from the generators' own samplers."""
    frames = max(frames, CLIP)
    from datagen.scene.random_scene import FLOORS, hdri_and_sun, library_ids
    from datagen.scene.spec import CameraSpec, LightSpec
    from datagen.vera.scenes import GLOSSY_FLOORS, sample_multi
    from datagen.void.families import sample_pair_scene
    from datagen.void.pairs import MaskConfig

    rng = np.random.default_rng(seed)
    if name.startswith("glossy"):
        for attempt in range(20):
            scene = sample_multi(np.random.default_rng([seed, attempt]), library, render, frames, 16)
            floor = name.split("_")[1]
            if scene.spec.environment.floor == floor:
                break
        else:
            env = dataclasses.replace(scene.spec.environment, floor=floor, floor_colors=GLOSSY_FLOORS[floor])
            scene.spec = dataclasses.replace(scene.spec, environment=env)
        spec, states = scene.spec, scene.states
    else:
        family = {"hdri_checker": "launch", "hdri_marble": "support", "hdri_photo": "chain", "lamp": "blocker"}[name]
        scene, states, _ = sample_pair_scene(rng, library, render, frames, 16, {family: 1.0}, 0.0,
                                             MaskConfig.defaults())
        spec = scene.spec
        env = spec.environment
        if name.startswith("hdri"):
            if not library_ids(library, "hdri"):
                raise ValueError("the scene library has no HDRIs (python -m datagen.assets build)")
            env, sun = hdri_and_sun(rng, library, env)
            if name == "hdri_photo":
                surfaces = library_ids(library, "surface")
                if not surfaces:
                    raise ValueError("the scene library has no photographic surfaces")
                env = dataclasses.replace(env, floor="photo", floor_texture=surfaces[0], floor_scale=2.0)
            else:
                floor = name.split("_")[1]
                env = dataclasses.replace(env, floor=floor, floor_colors=FLOORS.get(floor, env.floor_colors))
            spec = dataclasses.replace(spec, environment=env, lights=[sun])
        else:  # dusk: a dim sky, two small bright lamps near the objects
            env = dataclasses.replace(env, background="sky", strength=0.08, hdri=None, floor="wood",
                                      floor_colors=FLOORS["wood"])
            lamps = [LightSpec(kind="point", position=(0.8, -0.6, 0.9), color=(1.0, 0.85, 0.6), intensity=60.0,
                               size=0.03),
                     LightSpec(kind="point", position=(-0.9, 0.4, 1.4), color=(0.9, 0.9, 1.0), intensity=40.0,
                               size=0.02)]
            spec = dataclasses.replace(spec, environment=env, lights=lamps)
    c = spec.camera
    spec = dataclasses.replace(spec, camera=CameraSpec(position=c.position, look_at=c.look_at,
                                                        focal_length=c.focal_length, motion="orbit", amount=0.25))
    return spec, states


ADAPTIVE_THRESHOLD = 0.05  # the adaptive settings' noise threshold: Blender's default (0.01) and 0.02 stop no
# pixel early at <= 64 spp (the image is bit-identical to adaptive off), so the benchmark tries a looser one


def setting_render(render, spp: int, denoise: bool, adaptive: bool):
    """The RenderSpec of one setting: the generators' own pipeline (raw render, then OIDN on the full frame)."""
    return dataclasses.replace(render, spp=int(spp), denoise=bool(denoise),
                               adaptive_threshold=ADAPTIVE_THRESHOLD if adaptive else 0.0, adaptive_min_samples=0)


def warped_error(video: np.ndarray, backward_flow: np.ndarray) -> float:
    """Mean |frame t - frame t-1 warped to t| (grey levels) over the pixels whose source lies in the frame."""
    import cv2

    h, w = video.shape[1:3]
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    errors = []
    for t in range(1, len(video)):
        f = backward_flow[t]
        map_r, map_c = rows + f[..., 0], cols + f[..., 1]
        inside = (map_r >= 0) & (map_r <= h - 1) & (map_c >= 0) & (map_c <= w - 1)
        prev = cv2.remap(video[t - 1].astype(np.float32), map_c, map_r, cv2.INTER_LINEAR)
        diff = np.abs(video[t].astype(np.float32) - prev).mean(-1)
        errors.append(float(diff[inside].mean()))
    return float(np.mean(errors))


def measure(spec, states, library, settings, ref_spp: int, frames: int) -> dict:
    """{setting: {seconds, psnr, ssim, stability}} over ``frames`` consecutive frames from the middle of the
    clip, for one scene, and the reference's own figures."""
    from datagen.scene.render import SceneRenderer
    from training.evaluation.scores import psnr, ssim

    out = {}
    start = (spec.frames - frames) // 2
    shown = list(range(start, start + frames))
    with SceneRenderer(dataclasses.replace(spec, render=setting_render(spec.render, ref_spp, False, False)),
                       source=library) as r:
        r.set_states(states)
        flow = r.render(layers=("backward_flow",), frames=shown)["backward_flow"]
        t0 = time.perf_counter()
        ref = r.render(layers=("rgb",), frames=shown)["rgb"]
        ref_seconds = (time.perf_counter() - t0) / len(ref)
        ref_stability = warped_error(ref, flow)
    for setting in settings:
        with SceneRenderer(dataclasses.replace(spec, render=setting_render(spec.render, *setting)),
                           source=library) as r:
            r.set_states(states)
            r.render(layers=("rgb",), frames=shown[:1])  # warm: kernels, BVH, images and the denoiser loaded
            t0 = time.perf_counter()
            video = r.render(layers=("rgb",), frames=shown)["rgb"]
            seconds = (time.perf_counter() - t0) / len(video)
        out[setting] = {"seconds": seconds,
                        "psnr": float(np.mean([min(psnr(v, g), 99.0) for v, g in zip(video, ref)])),
                        "ssim": float(np.mean([ssim(v, g) for v, g in zip(video, ref)])),
                        "stability": warped_error(video, flow) / max(ref_stability, 1e-6)}
    return {"settings": out, "reference": {"spp": ref_spp, "seconds": ref_seconds, "warped_error": ref_stability}}


def label(setting) -> str:
    spp, denoise, adaptive = setting
    return f"{spp:>4} spp" + (" + OIDN" if denoise else "") + (" + adaptive" if adaptive else "")


def choose(results: dict, settings) -> tuple | None:
    """The fastest setting with median PSNR >= 40 dB, no slower than today's default and at least as
    stable as the reference on every scene; None when none qualifies."""
    budget = statistics.median(r["settings"][TODAY]["seconds"] for r in results.values()) \
        if all(TODAY in r["settings"] for r in results.values()) else float("inf")
    ok = []
    for s in settings:
        rows = [r["settings"][s] for r in results.values()]
        seconds = statistics.median(x["seconds"] for x in rows)
        if statistics.median(x["psnr"] for x in rows) >= 40 and seconds <= budget * 1.05 \
                and max(x["stability"] for x in rows) <= 1.0:
            ok.append((seconds, s))
    return min(ok)[1] if ok else None


@command
def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/render_quality.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--width", type=int, default=832)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--frames", type=int, default=5)
    p.add_argument("--ref-spp", type=int, default=1024)
    p.add_argument("--spp", type=int, nargs="+", default=[4, 8, 16])
    p.add_argument("--scenes", nargs="+", default=list(SCENES), choices=SCENES)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="also write the figures here")
    a = p.parse_args(argv)
    if a.frames < 2:
        raise ValueError("--frames must be at least 2 (temporal stability compares neighbouring frames)")
    from datagen.assets.library import AssetsConfig, open_scene_library
    from datagen.scene.spec import RenderSpec

    library = open_scene_library(AssetsConfig.defaults())
    settings = [s for s in itertools.product(sorted(set(a.spp) | {TODAY[0]}), (False, True), (False, True))]
    render = RenderSpec(width=a.width, height=a.height, spp=16, threads=a.threads, seed=a.seed)
    results = {}
    for name in a.scenes:
        t0 = time.perf_counter()
        spec, states = build_scene(name, library, render, a.frames, a.seed)
        results[name] = measure(spec, states, library, settings, a.ref_spp, a.frames)
        print(f"{name}: measured in {time.perf_counter() - t0:.0f} s (reference {a.ref_spp} spp: "
              f"{results[name]['reference']['seconds']:.1f} s/frame)", file=sys.stderr, flush=True)
    print(f"## Render quality at {a.width}x{a.height}, {a.frames} frames, reference {a.ref_spp} spp\n")
    print("| setting | s/frame (median) | PSNR median | PSNR worst | SSIM median | stability worst (ref = 1) |")
    print("|---|---|---|---|---|---|")
    for s in settings:
        rows = [r["settings"][s] for r in results.values()]
        print(f"| {label(s)} | {statistics.median(x['seconds'] for x in rows):.2f} | "
              f"{statistics.median(x['psnr'] for x in rows):.1f} | {min(x['psnr'] for x in rows):.1f} | "
              f"{statistics.median(x['ssim'] for x in rows):.4f} | {max(x['stability'] for x in rows):.2f} |")
    print("\nPer scene (PSNR dB / s per frame):\n")
    print("| setting | " + " | ".join(results) + " |")
    print("|---" * (len(results) + 1) + "|")
    for s in settings:
        print(f"| {label(s)} | " + " | ".join(f"{r['settings'][s]['psnr']:.1f} / {r['settings'][s]['seconds']:.2f}"
                                               for r in results.values()) + " |")
    chosen = choose(results, settings)
    print("\nchosen: " + (label(chosen) if chosen else "none meets every target (see the table)"))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({name: {"reference": r["reference"],
                              "settings": {label(s): v for s, v in r["settings"].items()}}
                       for name, r in results.items()} | {"chosen": label(chosen) if chosen else None}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
