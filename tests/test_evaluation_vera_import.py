"""``datagen.bench import-vera`` on Vera's test-set JSONL as published (REFERENCE: one row per (video,
prompt) with video_id, input_path, subject_type, prompt_id, prompt, target_caption, source_caption,
edit_type, mask_path, alpha_path): null and missing fields, several prompts per video, relative and
absolute paths, and rows that cannot be used (skipped with one line each). No renders."""
from __future__ import annotations

import json

import numpy as np
import pytest

from datagen import bench


@pytest.fixture(scope="module")
def vera_test_set(tmp_path_factory):
    from datagen.dataset.media import encode_mp4

    root = tmp_path_factory.mktemp("vera_test")
    rng = np.random.default_rng(0)
    for sub, name in (("videos", "bg_001"), ("videos", "add_007"), ("videos", "clip 9"), ("masks", "bg_001"),
                      ("alphas", "add_007")):
        (root / sub).mkdir(exist_ok=True)
        (root / sub / f"{name}.mp4").write_bytes(encode_mp4(rng.integers(0, 255, (5, 32, 48, 3), dtype=np.uint8), 16))
    row = {"video_id": "bg_001", "input_path": "videos/bg_001.mp4", "subject_type": "person", "prompt_id": 0,
           "prompt": "Replace the background with a beach at sunset.", "target_caption": "A man on a beach.",
           "source_caption": "A man in an office.", "edit_type": "background_change",
           "mask_path": "masks/bg_001.mp4", "alpha_path": None}
    lines = [
        json.dumps(row),
        json.dumps({**row, "prompt_id": 1, "prompt": "Replace the background with a snowy street."}),
        json.dumps({"video_id": "add_007", "input_path": str(root / "videos" / "add_007.mp4"),  # absolute
                    "subject_type": "object", "prompt_id": None, "prompt": "Add a red kite in the sky.",
                    "target_caption": None, "source_caption": None, "edit_type": "object_addition",
                    "mask_path": None, "alpha_path": "alphas/add_007.mp4"}),
        "",
        "{not json",
        json.dumps({**row, "prompt_id": 5, "prompt": None}),
        json.dumps({**row, "prompt_id": 6, "input_path": "videos/missing.mp4"}),
        json.dumps({**row, "prompt": "the same video and prompt id again"}),
        json.dumps(["a", "list"]),
        json.dumps({"input_path": "videos/clip 9.mp4", "prompt": "Add a cat."}),  # only the two needed fields
        json.dumps({"video_id": "sub/dir.9", "input_path": "videos/clip 9.mp4", "prompt": "Add a dog."}),
    ]
    (root / "test.jsonl").write_text("\n".join(lines) + "\n")
    return root


def test_import_vera_published_rows(vera_test_set, tmp_path, capsys):
    manifest = bench.import_vera(str(vera_test_set / "test.jsonl"), str(tmp_path))
    out = tmp_path / bench.VERSION / "vera_public"
    # several prompts of one video: one clip each, named by prompt_id; nulls are simply absent files
    assert sorted(p.name for p in out.iterdir()) == sorted([
        "bg_001-0.mp4", "bg_001-0.txt", "bg_001-0.mask.mp4", "bg_001-1.mp4", "bg_001-1.txt", "bg_001-1.mask.mp4",
        "add_007.mp4", "add_007.txt", "add_007.alpha.mp4", "clip_9.mp4", "clip_9.txt", "sub_dir_9.mp4",
        "sub_dir_9.txt", "clips.json"])
    assert (out / "bg_001-1.txt").read_text() == "Replace the background with a snowy street.\n"
    assert (out / "add_007.mp4").read_bytes() == (vera_test_set / "videos" / "add_007.mp4").read_bytes()
    assert (out / "bg_001-0.mask.mp4").read_bytes() == (vera_test_set / "masks" / "bg_001.mp4").read_bytes()
    clips = {c["name"]: c for c in json.loads((out / "clips.json").read_text())}
    assert clips["bg_001-0"]["line"] == 1 and clips["bg_001-0"]["edit_type"] == "background_change"
    assert clips["add_007"]["prompt_id"] is None and clips["add_007"]["target_caption"] is None
    assert clips["add_007"]["input_path"] == str(vera_test_set / "videos" / "add_007.mp4")  # verbatim
    assert clips["clip_9"]["video_id"] is None and clips["sub_dir_9"]["video_id"] == "sub/dir.9"
    assert set(clips["bg_001-0"]) == {"name", "line", *bench.VERA_FIELDS}
    # every unusable row: one line naming FILE:LINE and why, listed in the manifest too
    err = capsys.readouterr().err.splitlines()
    where = str(vera_test_set / "test.jsonl")
    assert err == [f"import-vera: skipped {where}:5: not JSON (Expecting property name enclosed in double quotes: "
                   "line 1 column 2 (char 1))",
                   f"import-vera: skipped {where}:6: prompt is missing",
                   f"import-vera: skipped {where}:7: input_path videos/missing.mp4 not found",
                   f"import-vera: skipped {where}:9: a JSON list, not an object",
                   f"import-vera: skipped {where}:8: clip bg_001-0 already comes from line 1 "
                   "(the same video_id and prompt_id)"]
    entry = json.loads(manifest.read_text())["splits"]["vera_public"]
    assert entry["samples"] == 5 and not entry["ground_truth"] and len(entry["skipped"]) == 5


def test_import_vera_reads_back_and_fails_in_one_line(vera_test_set, tmp_path, capsys):
    from training.inference.inputs import read_clips
    from training.tasks import TASKS

    bench.import_vera(str(vera_test_set / "test.jsonl"), str(tmp_path))
    skipped: list[str] = []
    clips = {c.name: c for c in read_clips(str(tmp_path / bench.VERSION / "vera_public"), TASKS["vera"].reads, skipped=skipped)}
    assert {"bg_001-0", "bg_001-1", "add_007", "clip_9", "sub_dir_9"} <= set(clips)
    assert clips["bg_001-1"].prompt == "Replace the background with a snowy street."
    assert clips["add_007"].video.shape == (5, 32, 48, 3)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n" + json.dumps({"input_path": "nowhere.mp4", "prompt": "x"}) + "\n")
    capsys.readouterr()
    assert bench.main(["import-vera", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and err[-1].startswith("error: ") and str(bad) in err[-1] and "no usable row" in err[-1]
