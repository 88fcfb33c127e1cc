"""Peak memory of ``training/infer.py`` against the input's size (printed; docs/inference.md quotes it).

    python benchmarks/inference_memory.py [--frames 46] [--sizes 544x360 1296x720 1920x1080 3840x2160]
                                          [--models affect void vera] [--max-side 832] [--steps 2]

For each size it makes a clip of that size (a moving pattern with a round object, encoded like a phone
clip), its object mask and quadmask, and runs the literal command on it with a tiny random model on the
CPU, each run in a fresh process. Printed per model and size: the peak resident memory of the inference
process and of the largest ffmpeg it started (decoders and encoders run as their own processes), and
the wall time. Inputs are decoded at the working size (long side ``--max-side``) and outputs written
frame by frame at the input's size, so the Python process's peak should not grow with the input.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from datagen.core.cli import command  # noqa: E402

# Runs a command and prints the peak RSS (kB) of it and of its largest descendant that it waited for.
_PEAK = ("import resource, subprocess, sys\n"
         "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
         "sys.stderr.write(p.stderr[-2000:] if p.returncode else '')\n"
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, p.returncode)\n")


def make_inputs(root: Path, width: int, height: int, frames: int) -> Path:
    """A VOID clip folder (input_video.mp4, quadmask_0.mp4, object_mask.mp4, prompt.json) and the same clip
    as a folder of videos for Vera (clip.mp4, clip.txt)."""
    from datagen.dataset.media import FrameWriter

    folder = root / "void" / "clip"
    folder.mkdir(parents=True)
    yy, xx = np.mgrid[0:height, 0:width]
    r = min(width, height) / 6
    with FrameWriter(folder / "input_video.mp4", width, height, 12.0, crf=28, preset="ultrafast") as video, \
            FrameWriter(folder / "object_mask.mp4", width, height, 12.0, lossless=True) as obj, \
            FrameWriter(folder / "quadmask_0.mp4", width, height, 12.0, lossless=True) as quad:
        for t in range(frames):
            cx = width * (0.3 + 0.4 * t / max(1, frames - 1))
            d2 = (yy - height / 2) ** 2 + (xx - cx) ** 2
            circle, ring = d2 < r * r, d2 < (1.5 * r) ** 2
            f = np.empty((height, width, 3), np.uint8)
            f[..., 0], f[..., 1], f[..., 2] = (xx * 255 // width).astype(np.uint8), (yy * 255 // height), 90
            f[circle] = (220, 60, 40)
            video.write(f)
            obj.write(np.where(circle, 255, 0).astype(np.uint8))
            q = np.full((height, width), 255, np.uint8)
            if t:
                q[ring] = 127
            q[circle] = 0
            quad.write(q)
    (folder / "prompt.json").write_text(json.dumps({"bg": "a plain gradient wall"}))
    vera = root / "vera"
    vera.mkdir()
    (vera / "clip.mp4").symlink_to(folder / "input_video.mp4")
    (vera / "clip.txt").write_text("Add a small blue ball rolling across the floor.\n")
    return root


def run(model: str, inputs: Path, out: Path, max_side: int, steps: int) -> tuple[float, float, bool]:
    source = inputs / ("vera" if model == "vera" else "void")
    cmd = [sys.executable, "training/infer.py", f"model={model}", "model.size=tiny", "data.path=unused",
           f"infer.input={source}", f"infer.out={out}", f"infer.max_side={max_side}", f"infer.steps={steps}",
           "text.max_length=24", "infer.guidance=1", "void.pass2=never", "void.keep_region=true"]
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _PEAK, *cmd], cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    peak_kb, code = proc.stdout.split()[-2:]
    if code != "0":
        print(proc.stderr[-1500:], file=sys.stderr)
    return int(peak_kb) / 2**20, seconds, code == "0"


@command
def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=46)
    ap.add_argument("--sizes", nargs="+", default=["544x360", "1296x720", "1920x1080", "3840x2160"])
    ap.add_argument("--models", nargs="+", default=["affect", "void", "vera"])
    ap.add_argument("--max-side", type=int, default=832)
    ap.add_argument("--steps", type=int, default=2)
    a = ap.parse_args(argv)
    print(f"| model | input | frames | working long side | peak RSS (GiB) | wall (s) |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for size in a.sizes:
            w, h = map(int, size.split("x"))
            inputs = make_inputs(Path(tmp) / size, w, h, a.frames)
            for model in a.models:
                peak, seconds, ok = run(model, inputs, Path(tmp) / size / f"out-{model}", a.max_side, a.steps)
                print(f"| {model} | {w}x{h} | {a.frames} | {min(a.max_side, max(w, h))} | "
                      f"{peak:.2f}{'' if ok else ' (failed)'} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
