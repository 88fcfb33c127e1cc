"""Seconds per frame: Blender's render call alone vs our full pass pipeline, and what realism costs.

    python benchmarks/render.py [--width 832 --height 480 --spp 16 --frames 3 --threads 0] [--library procedural|auto]

Prints, for one random physics scene:
  blender_call  bpy.ops.render.render on the beauty layer only (no label layer, no EXR, no readback)
  full_pass     SceneRenderer.render(rgb + segmentation + depth + flow): beauty + 1-spp label layer,
                EXR and PNG written and read back into arrays
  label_pass    SceneRenderer.render(segmentation + depth + flow): the label layer only
and the overhead ratio full_pass / blender_call. With ``--library both`` (the default) it measures the
same scene seed twice: procedural objects under the procedural sky, and real textured objects under a
real HDRI (``assets.library=auto``, every weight on real assets), and prints the cost factor of realism.
Numbers vary by machine; nothing here is asserted.
"""
from __future__ import annotations

import argparse
import sys
import time

from datagen.assets.library import AssetsConfig, open_scene_library
from datagen.core.cli import command, report_error
from datagen.scene.random_scene import random_physics_scene
from datagen.scene.simulate import simulate
from datagen.scene.spec import RenderSpec


@command
def main(argv=None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--width", type=int, default=832)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--spp", type=int, default=16)
    p.add_argument("--frames", type=int, default=3)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--library", choices=("procedural", "auto", "both"), default="both")
    p.add_argument("--device", choices=("cpu", "cuda", "optix"), default="cpu",
                   help="a GPU device also measures the CPU and prints the CPU/GPU ratio")
    a = p.parse_args(argv)
    if a.device != "cpu":
        from datagen.scene.devices import DeviceError, check

        try:
            print(f"{a.device}: {', '.join(check(a.device))}")
        except DeviceError as e:
            return report_error(e)
        gpu = measure(a, "procedural", a.device)
        cpu = measure(a, "procedural", "cpu")
        print(f"cpu/{a.device}      {cpu['blender_call'] / gpu['blender_call']:8.2f} x  (blender_call, same scene and spp)")
        return
    results = {}
    for library in (("procedural", "auto") if a.library == "both" else (a.library,)):
        results[library] = measure(a, library)
    if len(results) == 2:
        f = results["auto"]["blender_call"] / results["procedural"]["blender_call"]
        print(f"realism       {f:8.2f} x  (real textured objects + HDRI vs procedural objects + sky, same spp)")


def measure(a, library: str, device: str = "cpu") -> dict:
    real = {"objects": {"real": 1.0, "procedural": 0.0}, "environments": {"hdri": 1.0, "sky": 0.0}}
    source = open_scene_library(AssetsConfig.defaults(library=library, **(real if library == "auto" else {})))
    spec = random_physics_scene(a.seed, source.all_asset_ids, frames=a.frames,
                                render=RenderSpec(width=a.width, height=a.height, spp=a.spp,
                                                  threads=a.threads, device=device), source=source)
    states = simulate(spec, source=source)
    from datagen.scene.render import SceneRenderer, bpy  # Blender import after physics
    with SceneRenderer(spec, source=source) as renderer:
        renderer.set_states(states)
        renderer.render(layers=("rgb",), frames=[0])  # warm-up: kernels, BVH, textures

        scene = bpy.context.scene
        aux, exr = scene.view_layers["AuxOutputs"], renderer.blender.exr_output_node
        aux.use, exr.mute = False, True
        t = time.perf_counter()
        for f in range(a.frames):
            scene.frame_set(f + 1)
            bpy.ops.render.render(animation=False, write_still=False)
        blender_call = (time.perf_counter() - t) / a.frames
        aux.use, exr.mute = True, False

        layers = ("rgb", "segmentation", "depth", "forward_flow", "backward_flow")
        t = time.perf_counter()
        renderer.render(layers=layers)
        full_pass = (time.perf_counter() - t) / a.frames
        t = time.perf_counter()
        renderer.render(layers=layers[1:])
        label_pass = (time.perf_counter() - t) / a.frames

    env = spec.environment
    print(f"[{library}] scene: {len(spec.objects)} objects ({', '.join(o.asset_id for o in spec.objects)}), "
          f"{env.hdri or 'procedural sky'}, floor {env.floor}; {a.width}x{a.height}, {a.spp} spp, {a.frames} frames, "
          f"threads={a.threads or 'auto'}")
    print(f"blender_call  {blender_call:8.2f} s/frame")
    print(f"full_pass     {full_pass:8.2f} s/frame")
    print(f"label_pass    {label_pass:8.2f} s/frame")
    print(f"overhead      {full_pass / blender_call:8.2f} x  (full_pass / blender_call)")
    print(f"label/full    {label_pass / full_pass:8.2f}")
    return {"blender_call": blender_call, "full_pass": full_pass, "label_pass": label_pass}


if __name__ == "__main__":
    sys.exit(main())
