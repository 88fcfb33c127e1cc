"""Held-out benchmark splits with physics ground truth, and converters for public test clips.

    python -m datagen.bench make --out DIR [--samples N] [--width W --height H --frames T --spp S] [--splits ...]
    python -m datagen.bench import-void SAMPLE_DIR --out DIR     # VOID's public sample/ clips (no ground truth)
    python -m datagen.bench import-vera TEST.jsonl --out DIR     # Vera's test-set layout (JSONL)

``make`` writes one dataset per split under ``DIR/<version>/`` (our generators, so every sample carries
its ground truth: the re-simulated counterfactual, the true layers) and ``DIR/<version>/manifest.json``.
Splits: VOID Kubric pairs by family (launch, support, chain, blocker) and negatives, human removal, Vera
object addition, background change and matting, and VOID pairs of the effects family per side-effect
category (``void_effect_shadow``, ``_reflection``, ``_mirror``, ``_translucency``, ``_light``). Splits are **seed-disjoint** from training data:
their run seeds lie in a reserved range (``BENCH_SEED_BASE`` and up) that ordinary generator runs refuse
(``runner.bench=true`` unlocks it, which only this command sets). A rerun resumes, like any run.

The converters copy public clips into the folder layouts ``training/infer.py`` reads (VOID's per-clip
folders; a folder of videos with ``NAME.txt`` prompts) and add them to the manifest as splits without
ground truth, for qualitative runs (``training/evaluate.py`` scores what it can: Vera's content
preservation outside the given mask). ``import-void`` reads VOID's clip folders as VOID publishes them
(``datagen.void.layout``) and skips, in one line each, the clips that cannot be used.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from datagen.core.cli import command
from datagen.dataset.generators import VERA, VOID, config_name
from datagen.runner.config import BENCH_SEEDS as BENCH_SEED_BASE  # reserved run seeds start here

# v2: the effects family joined the default VOID mix (v1's splits drew from four families) and the
# void_effect_<category> splits were added
VERSION = "v2"
_FAMILIES = ("launch", "support", "chain", "blocker")
_ALL_FAMILIES = (*_FAMILIES, "effects")
EFFECT_CATEGORIES = ("shadow", "reflection", "mirror", "translucency", "light")  # datagen.void.families.effects


def _family(name: str) -> list[str]:
    return [f"void.families.{f}={1 if f == name else 0}" for f in _ALL_FAMILIES] + ["void.negative_rate=0"]


_TASKS = ("object_addition", "background_change", "matting")


def _task(name: str) -> list[str]:
    return [f"vera.tasks.{t}={1 if t == name else 0}" for t in _TASKS]


# split -> (generator config, task, overrides); the order fixes each split's seed
SPLITS: dict[str, tuple[str, str, list[str]]] = {
    **{f"void_{f}": (config_name(VOID), "removal", _family(f)) for f in _FAMILIES},
    "void_negative": (config_name(VOID), "removal", ["void.negative_rate=1"]),
    "void_humans": (config_name(VOID), "removal", ["source=humoto"]),
    "vera_addition": (config_name(VERA), "object_addition", _task("object_addition")),
    "vera_background": (config_name(VERA), "background_change", _task("background_change")),
    "vera_matting": (config_name(VERA), "matting", _task("matting")),
    **{f"void_effect_{c}": (config_name(VOID), "removal", [*_family("effects"), f"void.effects.category={c}"])
       for c in EFFECT_CATEGORIES},
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
    """VOID's per-clip folders, as VOID publishes them (``datagen.void.layout``: every mask naming, extra
    files and nested folders ignored), as a split in VOID's canonical layout: ``input_video.mp4`` and
    ``prompt.json`` copied byte for byte, ``quadmask_0.mp4`` copied when the clip has one quadmask file, else
    its per-object masks merged and written lossless, frame by frame. A clip that cannot be used is skipped
    with one line on stderr; the manifest entry records each clip's mask naming and the skipped clips.
    ValueError when no clip is usable."""
    from datagen.dataset.media import FrameWriter, MediaError
    from datagen.void.layout import MERGED, PROMPT, QUADMASK, VIDEO, iter_quadmask, scan_clips

    src, dst = Path(sample_dir), Path(out) / VERSION / name
    if not src.is_dir():
        raise FileNotFoundError(f"{sample_dir}: no such folder")
    clips, skipped = scan_clips(src)
    imported: dict[str, str] = {}
    for clip in clips:
        target, tmp = dst / clip.name, dst / f".{clip.name}.part"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            shutil.copyfile(clip.video, tmp / VIDEO)
            if (clip.folder / PROMPT).is_file():
                shutil.copyfile(clip.folder / PROMPT, tmp / PROMPT)
            if clip.naming != MERGED:
                shutil.copyfile(clip.masks[0], tmp / QUADMASK)
            else:
                with FrameWriter(tmp / QUADMASK, clip.info.width, clip.info.height, clip.info.fps or 12.0,
                                 lossless=True) as writer:
                    for frame in iter_quadmask(clip):
                        writer.write(frame)
        except MediaError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            skipped.append((clip.folder, str(e).splitlines()[0]))
            continue
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
        imported[clip.name] = clip.naming
    for folder, why in skipped:
        print(f"import-void: skipped {folder}: {why}", file=sys.stderr)
    if not imported:
        raise ValueError(f"{sample_dir}: no usable VOID clip folder ({len(skipped)} skipped; each needs "
                         f"{VIDEO} and a mask, see datagen/void/layout.py)")
    print(f"bench: {name}: {len(imported)} clips imported, {len(skipped)} skipped, at {dst}")
    return _update_manifest(Path(out) / VERSION, {name: {
        "path": name, "layout": "void_clips", "task": "removal", "samples": len(imported), "ground_truth": False,
        "source": str(src), "clips": imported, "skipped": {f.name: why for f, why in skipped}}})


VERA_FIELDS = ("video_id", "input_path", "subject_type", "prompt_id", "prompt", "target_caption", "source_caption",
               "edit_type", "mask_path", "alpha_path")  # Vera's test-set JSONL, one row per (video, prompt)


def _vera_rows(path: Path) -> tuple[list[tuple[int, dict, dict]], list[tuple[str, str]]]:
    """The usable rows of Vera's JSONL as (line number, row, {path field: file}), and (FILE:LINE, why)
    for the others."""
    rows, skipped = [], []
    for n, raw in enumerate(path.read_bytes().splitlines(), start=1):
        where = f"{path}:{n}"
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            skipped.append((where, "not UTF-8 text"))
            continue
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as e:
            skipped.append((where, f"not JSON ({e})"))
            continue
        if not isinstance(row, dict):
            skipped.append((where, f"a JSON {type(row).__name__}, not an object"))
            continue
        given = {k: v for k, v in row.items() if not (v is None or (isinstance(v, str) and not v.strip()))}
        bad = [f"{k} is missing" for k in ("input_path", "prompt") if k not in given]
        bad += [f"{k} is not a text" for k in ("input_path", "prompt", "mask_path", "alpha_path")
                if k in given and not isinstance(given[k], str)]
        if bad:
            skipped.append((where, bad[0]))
            continue
        files = {k: path.parent / given[k] for k in ("input_path", "mask_path", "alpha_path") if k in given}
        lost = [k for k, f in files.items() if "\0" in str(f) or not f.is_file()]
        if lost:
            skipped.append((where, f"{lost[0]} {row[lost[0]]} not found"))
            continue
        rows.append((n, row, files))
    return rows, skipped


def _clip_name(text: str) -> str:
    """A file-name-safe clip name: letters, digits, ``_`` and ``-`` (``.`` would clash with ``NAME.mask.mp4``)."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "_-") else "_" for c in text).strip("_") or "clip"


def import_vera(jsonl: str, out: str, name: str = "vera_public") -> Path:
    """Vera's test set as published: a JSONL file, one row per (video, prompt), with the fields
    ``VERA_FIELDS``. ``input_path`` and ``prompt`` are needed, every other field may be missing or null;
    paths are relative to the JSONL's folder unless absolute. Written as a folder of videos (the layout
    ``training/infer.py`` reads): ``NAME.mp4`` (the input), ``NAME.txt`` (the prompt), ``NAME.mask.mp4`` and
    ``NAME.alpha.mp4`` when given, and ``clips.json`` (each clip's row, its fields verbatim, plus its NAME
    and line). NAME is the ``video_id`` (else the input's file stem) made file-name safe, with
    ``-<prompt_id>`` (else ``-<k>``, the row's place among the video's rows) when the file has several
    prompts for that video. A row that cannot be used (not a JSON object, no input_path or prompt, a file
    that does not exist, a NAME already taken) is skipped with one line on stderr naming FILE:LINE; the
    manifest entry lists them. ValueError when no row is usable."""
    path = Path(jsonl)
    if not path.is_file():
        raise FileNotFoundError(f"{jsonl}: no such file")
    rows, skipped = _vera_rows(path)
    base = [_clip_name(str(r["video_id"]) if r.get("video_id") not in (None, "") else f["input_path"].stem)
            for _, r, f in rows]
    dst = Path(out) / VERSION / name
    clips: dict[str, dict] = {}
    for i, ((n, row, files), vid) in enumerate(zip(rows, base)):
        key = vid
        if base.count(vid) > 1:
            pid = row.get("prompt_id")
            key = f"{vid}-{_clip_name(str(pid)) if pid not in (None, '') else base[:i + 1].count(vid)}"
        if key in clips:
            skipped.append((f"{path}:{n}", f"clip {key} already comes from line {clips[key]['line']} "
                                           "(the same video_id and prompt_id)"))
            continue
        dst.mkdir(parents=True, exist_ok=True)
        for field, suffix in (("input_path", ".mp4"), ("mask_path", ".mask.mp4"), ("alpha_path", ".alpha.mp4")):
            if field in files:
                shutil.copyfile(files[field], dst / f"{key}{suffix}")
        (dst / f"{key}.txt").write_text(row["prompt"].strip() + "\n")
        clips[key] = {"name": key, "line": n, **{k: row.get(k) for k in VERA_FIELDS}}
    for where, why in skipped:
        print(f"import-vera: skipped {where}: {why}", file=sys.stderr)
    if not clips:
        raise ValueError(f"{jsonl}: no usable row ({len(skipped)} skipped; each needs input_path and prompt, "
                         "see docs/evaluation.md)")
    (dst / "clips.json").write_text(json.dumps(list(clips.values()), indent=1) + "\n")
    print(f"bench: {name}: {len(clips)} clips imported, {len(skipped)} rows skipped, at {dst}")
    return _update_manifest(Path(out) / VERSION, {name: {
        "path": name, "layout": "videos", "task": "vera", "samples": len(clips), "ground_truth": False,
        "source": str(path), "skipped": dict(skipped)}})


@command(also=(RuntimeError,))  # make: a split that fails to generate or validate
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
    if a.command == "make":
        path = make(a.out, a.samples, a.splits, {k: getattr(a, k) for k in ("width", "height", "frames", "spp")},
                    ["runner.mode=local"] if a.local else [])
    elif a.command == "import-void":
        path = import_void(a.sample_dir, a.out)
    else:
        path = import_vera(a.jsonl, a.out)
    print(f"manifest: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
