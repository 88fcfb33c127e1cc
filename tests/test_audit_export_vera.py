"""Export to Vera's card layout and the Vera dataset audit (HTML report and notebook), on one tiny Vera
dataset made once per module (3 clips, one per family, 64x48, 5 frames, 2 spp, in 2 shards)."""
from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from datagen.audit import vera as audit_vera
from datagen.dataset.export import VERA_FIELDS, VERA_MANIFEST, VERA_MASKS, VERA_VIDEOS, export_vera
from datagen.dataset.media import read_mask_mp4
from datagen.core.paths import REPO_ROOT
from datagen.runner import load_config, run
from audit_helpers import execute_audit_notebook, raw_and_decoded

pytestmark = pytest.mark.render

TINY = ["render.width=64", "render.height=48", "render.frames=5", "render.spp=2", "runner.progress=false"]
NUM = 3


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("vera") / "run"
    cfg = load_config("vera_layers", [f"out={out}", f"num_samples={NUM}", "samples_per_shard=2",
                                      "runner.mode=local", "runner.cpus_per_task=2", *TINY])
    assert run(cfg).ok
    return out


@pytest.fixture(scope="module")
def shard_samples(dataset):
    """Decoded samples plus their raw member bytes, keyed by sample key."""
    raw, decoded = raw_and_decoded(dataset)
    assert len(raw) == len(decoded) == NUM
    return raw, decoded


def _run(*args):
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=300)


def test_export_vera_round_trip(dataset, shard_samples, tmp_path):
    raw, decoded = shard_samples
    out = tmp_path / "export"
    jsonl = export_vera(str(dataset), out)
    assert jsonl == out / f"{VERA_MANIFEST}.jsonl"
    assert not list(out.rglob("*.tmp")), "no temporary folders or manifests left"
    rows = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    with open(out / f"{VERA_MANIFEST}.csv", newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == VERA_FIELDS
        csv_rows = list(reader)
    assert [r["key"] for r in rows] == [r["key"] for r in csv_rows] == sorted(raw)
    for row, csv_row in zip(rows, csv_rows):
        assert tuple(row) == VERA_FIELDS
        assert {k: str(v) for k, v in row.items()} == csv_row
        key = row["key"]
        sample = decoded[key]
        folder = out / key
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            [f"{n}.mp4" for n in VERA_VIDEOS + VERA_MASKS] + ["edit_instruction.txt", "metadata.json"])
        for name in VERA_VIDEOS + VERA_MASKS:
            assert row[name] == f"{key}/{name}.mp4" and (out / row[name]).is_file()
        # videos: the shard's mp4 bytes, unchanged
        for name in VERA_VIDEOS:
            assert (folder / f"{name}.mp4").read_bytes() == raw[key][f"{name}.mp4"]
        # alpha and mask: lossless mp4s that read back bit-exactly
        for name in VERA_MASKS:
            back = read_mask_mp4(folder / f"{name}.mp4")
            assert back.dtype == np.uint8 and back.shape == sample[name].shape == (5, 48, 64)
            assert np.array_equal(back, sample[name]), name
        assert row["edit_instruction"] == sample["edit_instruction"].strip() and row["edit_instruction"]
        assert (folder / "edit_instruction.txt").read_text(encoding="utf-8").strip() == row["edit_instruction"]
        assert (row["task"], row["family"]) == (sample["meta"]["task"], sample["meta"]["family"])
        meta = json.loads((folder / "metadata.json").read_text())
        assert meta["key"] == key and meta["meta"] == sample["meta"]
        assert meta["index"] == sample["info"]["index"] and meta["seed"] == sample["info"]["seed"]
    assert {r["family"] for r in rows} == {"synthetic", "single_object", "multi_object"}

    # --limit: only the first clip
    again = export_vera(str(dataset), tmp_path / "limited", limit=1, verify=False)
    assert [json.loads(line)["key"] for line in again.read_text().splitlines()] == ["00000000"]


def test_export_cli(dataset, tmp_path):
    out = tmp_path / "cli"
    result = _run("datagen.export", str(dataset), "--format", "vera", "--to", str(out))
    assert result.returncode == 0, result.stderr
    assert f"exported {NUM} clips" in result.stdout
    assert len((out / f"{VERA_MANIFEST}.jsonl").read_text().splitlines()) == NUM
    assert len((out / f"{VERA_MANIFEST}.csv").read_text().splitlines()) == NUM + 1

    wrong = _run("datagen.export", str(dataset), "--format", "void", "--to", str(tmp_path / "wrong"))
    assert wrong.returncode != 0
    lines = wrong.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "datagen.vera_layers" in lines[0], wrong.stderr


SECTION_TITLES = ["Overview", "Alpha mattes", "Composite residuals",
                  "Task, family and subject balance, instruction lengths", "Sample grids", "Failures"]


def test_collect_vera_statistics(dataset, shard_samples):
    _, decoded = shard_samples
    a = audit_vera.collect_vera(str(dataset), grid=2)
    assert [r["key"] for r in a.rows] == sorted(decoded) and len(a.sheets) == 2
    assert int(a.alpha_hist.sum()) == sum(s["edit_alpha"].size for s in decoded.values())
    for r in a.rows:
        alpha = decoded[r["key"]]["edit_alpha"]
        assert r["alpha_zero"] == pytest.approx((alpha == 0).mean())
        assert r["alpha_one"] == pytest.approx((alpha == 255).mean())
        assert r["residual_mean"] < 3.0, "the validator's bound on the decoded composite"
    assert [fn(a).title for fn in audit_vera.VERA_SECTIONS] == SECTION_TITLES
    # the balance by subject kind (people and objects), as each sample's meta says
    assert [r["subject_kind"] for r in a.rows] == [decoded[k]["meta"]["subject_kind"] for k in sorted(decoded)]
    kinds = dict(audit_vera.section_balance(a).tables)["family x subject kind"]
    assert sum(row["clips"] for row in kinds) == len(a.rows)


def test_html_report(dataset, tmp_path):
    out = tmp_path / "report.html"
    result = _run("datagen.audit", str(dataset), "--out", str(out), "--grid", "2")
    assert result.returncode == 0, result.stderr
    assert str(out.resolve()) in result.stdout
    text = out.read_text()
    assert "Vera dataset audit" in text
    for title in SECTION_TITLES:
        assert f"<h2>{title}</h2>" in text.replace("&amp;", "&")
    # figures: alpha, residuals, balance, plus one contact sheet per grid sample
    assert text.count('src="data:image/png;base64,') == 3 + 2
    assert "http://" not in text and "https://" not in text, "self-contained"


@pytest.mark.notebook
def test_notebook_executes(dataset, tmp_path):
    pngs, markdown = execute_audit_notebook("audit_vera", dataset, tmp_path)
    assert pngs == 3 + 2
    for title in SECTION_TITLES:
        assert title in markdown
