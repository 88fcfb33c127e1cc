"""Held-out benchmark splits with physics ground truth, and converters for public test clips.

    python -m datagen.bench make --out DIR [--samples N] [--width W --height H --frames T --spp S] [--splits ...]
    python -m datagen.bench import-void SAMPLE_DIR --out DIR     # VOID's public sample/ clips (no ground truth)
    python -m datagen.bench import-vera TEST.jsonl --out DIR     # Vera's test-set layout (JSONL)

``make`` writes one dataset per split under ``DIR/<version>/`` (our generators, so every sample carries
its ground truth: the re-simulated counterfactual, the true layers) and ``DIR/<version>/manifest.json``.
Splits: VOID Kubric pairs by family (launch, support, chain, blocker) and negatives, human removal, and
Vera object addition, background change and matting. Splits are **seed-disjoint** from training data:
their run seeds lie in a reserved range (``BENCH_SEED_BASE`` and up) that ordinary generator runs refuse
(``runner.bench=true`` unlocks it, which only this command sets). A rerun resumes, like any run.

The converters copy public clips into the folder layouts ``training/infer.py`` reads (VOID's per-clip
folders; a folder of videos with ``NAME.txt`` prompts) and add them to the manifest as splits without
ground truth, for qualitative runs (``training/evaluate.py`` scores what it can: Vera's content
preservation outside the given mask).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from datagen.runner.config import BENCH_SEEDS as BENCH_SEED_BASE  # reserved run seeds start here

VERSION = "v1"
_FAMILIES = ("launch", "support", "chain", "blocker")


def _family(name: str) -> list[str]:
    return [f"void.families.{f}={1 if f == name else 0}" for f in _FAMILIES] + ["void.negative_rate=0"]


_TASKS = ("object_addition", "background_change", "matting")


def _task(name: str) -> list[str]:
    return [f"vera.tasks.{t}={1 if t == name else 0}" for t in _TASKS]


# split -> (generator config, task, overrides); the order fixes each split's seed
SPLITS: dict[str, tuple[str, str, list[str]]] = {
    **{f"void_{f}": ("void_counterfactuals", "removal", _family(f)) for f in _FAMILIES},
    "void_negative": ("void_counterfactuals", "removal", ["void.negative_rate=1"]),
    "void_humans": ("void_counterfactuals", "removal", ["source=humoto"]),
    "vera_addition": ("vera_layers", "object_addition", _task("object_addition")),
    "vera_background": ("vera_layers", "background_change", _task("background_change")),
    "vera_matting": ("vera_layers", "matting", _task("matting")),
}


def split_seed(split: str, version: str = VERSION) -> int:
    return BENCH_SEED_BASE + 1000 * int(version.lstrip("v")) + list(SPLITS).index(split)


def _manifest_path(root: Path) -> Path:
    return root / "manifest.json"


def _update_manifest(root: Path, entries: dict) -> Path:
    path = _manifest_path(root)
    data = json.loads(path.read_text()) if path.is_file() else {"version": VERSION, "splits": {}}
    data["splits"].update(entries)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)
    return path


def make(out: str, samples: int = 20, splits=None, render: dict | None = None, runner: list[str] = ()) -> Path:
    """Generate (or resume) every split; returns the manifest's path."""
    from datagen.runner import load_config, run
    from datagen.runner.config import config_hash, to_plain
    from datagen.runner.validate import validate

    root = Path(out) / VERSION
    names = list(splits or SPLITS)
    unknown = sorted(set(names) - set(SPLITS))
    if unknown:
        raise ValueError(f"unknown splits {unknown}; choose from {list(SPLITS)}")
    entries = {}
    for name in names:
        generator, task, overrides = SPLITS[name]
        size = [f"render.{k}={v}" for k, v in (render or {}).items() if v is not None]
        cfg = load_config(generator, [f"out={root / name}", f"num_samples={samples}", f"seed={split_seed(name)}",
                                      "runner.bench=true", *size, *overrides, *runner])
        result = run(cfg)
        if not result.ok:
            raise RuntimeError(f"bench split {name}: generation failed ({len(result.failures)} failures, see "
                               f"{root / name}/dataset.json)")
        passed, failed = validate(str(root / name), emit=lambda line: print(line, file=sys.stderr))
        if failed:
            raise RuntimeError(f"bench split {name}: {failed} samples fail validation")
        plain = to_plain(cfg)
        entries[name] = {"path": name, "generator": plain["generator"], "task": task, "seed": plain["seed"],
                         "samples": passed, "config_hash": config_hash(plain), "ground_truth": True,
                         "render": plain["render"]}
        print(f"bench: {name}: {passed} samples ({task}) at {root / name}")
    return _update_manifest(root, entries)


def import_void(sample_dir: str, out: str, name: str = "void_public") -> Path:
    """VOID's public per-clip folders (input_video.mp4, quadmask_0.mp4, prompt.json) as a split."""
    src, dst = Path(sample_dir), Path(out) / VERSION / name
    clips = sorted(d for d in ([src] + [p for p in src.iterdir() if p.is_dir()] if src.is_dir() else [])
                   if (d / "input_video.mp4").is_file())
    if not clips:
        raise FileNotFoundError(f"{sample_dir}: no folders with input_video.mp4 (VOID's sample/ layout)")
    for d in clips:
        if not (d / "quadmask_0.mp4").is_file():
            raise FileNotFoundError(f"{d}: no quadmask_0.mp4")
        target = dst / d.name
        target.mkdir(parents=True, exist_ok=True)
        for f in ("input_video.mp4", "quadmask_0.mp4", "prompt.json"):
            if (d / f).is_file():
                shutil.copyfile(d / f, target / f)
    return _update_manifest(Path(out) / VERSION, {name: {
        "path": name, "layout": "void_clips", "task": "removal", "samples": len(clips), "ground_truth": False,
        "source": str(src)}})


def import_vera(jsonl: str, out: str, name: str = "vera_public") -> Path:
    """Vera's test set (JSONL rows with video_id, input_path, prompt, mask_path, alpha_path, edit_type;
    paths relative to the file) as a folder of videos: NAME.mp4, NAME.txt, NAME.mask.mp4, NAME.alpha.mp4."""
    path = Path(jsonl)
    if not path.is_file():
        raise FileNotFoundError(f"{jsonl}: no such file")
    dst = Path(out) / VERSION / name
    dst.mkdir(parents=True, exist_ok=True)
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as e:
            raise ValueError(f"{jsonl}:{n}: not JSON ({e})") from None
        missing = [k for k in ("input_path", "prompt") if not row.get(k)]
        if missing:
            raise ValueError(f"{jsonl}:{n}: no {missing[0]}")
        vid = str(row.get("video_id") or Path(row["input_path"]).stem)
        for key, suffix in (("input_path", ".mp4"), ("mask_path", ".mask.mp4"), ("alpha_path", ".alpha.mp4")):
            if row.get(key):
                src = (path.parent / row[key]).resolve()
                if not src.is_file():
                    raise FileNotFoundError(f"{jsonl}:{n}: {key} {row[key]} not found")
                shutil.copyfile(src, dst / f"{vid}{suffix}")
        (dst / f"{vid}.txt").write_text(str(row["prompt"]).strip() + "\n")
        rows.append({"video_id": vid, "edit_type": row.get("edit_type"), "prompt_id": row.get("prompt_id")})
    (dst / "clips.json").write_text(json.dumps(rows, indent=1) + "\n")
    return _update_manifest(Path(out) / VERSION, {name: {
        "path": name, "layout": "videos", "task": "vera", "samples": len(rows), "ground_truth": False,
        "source": str(path)}})


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m datagen.bench", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    mk = sub.add_parser("make", help="generate the held-out splits (resumable)")
    mk.add_argument("--out", required=True)
    mk.add_argument("--samples", type=int, default=20, help="samples per split")
    mk.add_argument("--splits", nargs="+", default=None, choices=list(SPLITS))
    for k in ("width", "height", "frames", "spp"):
        mk.add_argument(f"--{k}", type=int, default=None, help=f"render.{k} (default: the generator's)")
    mk.add_argument("--local", action="store_true", help="run in-process (runner.mode=local) instead of Ray")
    iv = sub.add_parser("import-void", help="VOID's public sample/ clips as a split (no ground truth)")
    iv.add_argument("sample_dir")
    iv.add_argument("--out", required=True)
    ie = sub.add_parser("import-vera", help="Vera's test-set JSONL as a split (no ground truth)")
    ie.add_argument("jsonl")
    ie.add_argument("--out", required=True)
    a = p.parse_args(argv)
    try:
        if a.command == "make":
            path = make(a.out, a.samples, a.splits, {k: getattr(a, k) for k in ("width", "height", "frames", "spp")},
                        ["runner.mode=local"] if a.local else [])
        elif a.command == "import-void":
            path = import_void(a.sample_dir, a.out)
        else:
            path = import_vera(a.jsonl, a.out)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"error: {e}".splitlines()[0], file=sys.stderr)
        return 2
    print(f"manifest: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
