"""Export to VOID's training layout and the dataset audit (HTML report and notebook), on one tiny VOID
dataset made once per module (3 pairs, 96x64, 6 frames, 2 spp, in 2 shards)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import imageio_ffmpeg
import numpy as np
import pytest

from datagen import audit
from datagen.dataset.export import VOID_FILES, VOID_MANIFEST, export_void
from datagen.dataset.media import decode_mp4, encode_mask_mp4, read_mask_mp4
from datagen.labels import quadmask as qm
from datagen.core.paths import REPO_ROOT
from datagen.runner import load_config, run
from audit_helpers import execute_audit_notebook, raw_and_decoded

TINY = ["render.width=96", "render.height=64", "render.frames=6", "render.spp=2", "runner.progress=false"]
NUM = 3


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("void") / "run"
    cfg = load_config("void_counterfactuals", [f"out={out}", f"num_samples={NUM}", "samples_per_shard=2",
                                               "runner.mode=local", *TINY])
    assert run(cfg).ok
    return out


@pytest.fixture(scope="module")
def shard_samples(dataset):
    """Decoded samples plus their raw mp4 bytes, keyed by sample key."""
    raw, decoded = raw_and_decoded(dataset)
    return raw, decoded


def _read_rgb24(path):
    """A reader that is not ours: imageio-ffmpeg's frame iterator at rgb24 (what VOID's decord/mediapy give)."""
    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    w, h = next(reader)["size"]
    return np.stack([np.frombuffer(f, np.uint8).reshape(h, w, 3) for f in reader])


def test_mask_mp4_is_lossless_for_every_value():
    rng = np.random.default_rng(0)
    mask = rng.choice(np.array(qm.VALUES, np.uint8), size=(5, 32, 48))
    mask[2] = np.arange(256, dtype=np.uint8).repeat(6)[: 32 * 48].reshape(32, 48)  # every byte value
    data = encode_mask_mp4(mask, fps=12)
    frames = decode_mp4(data)
    assert frames.shape == (5, 32, 48, 3)
    assert all(np.array_equal(frames[..., c], mask) for c in range(3))
    assert encode_mask_mp4(mask, fps=12) == data, "deterministic bytes"


@pytest.mark.render
def test_export_void_round_trip(dataset, shard_samples, tmp_path):
    raw, decoded = shard_samples
    out = tmp_path / "export"
    result = subprocess.run([sys.executable, "-m", "datagen.export", str(dataset), "--format", "void",
                             "--to", str(out)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"exported {NUM} pairs" in result.stdout
    manifest = json.loads((out / VOID_MANIFEST).read_text())
    assert [e["key"] for e in manifest] == sorted(raw)
    for entry in manifest:
        key = entry["key"]
        folder = out / key
        assert entry["type"] == "video_mask_tuple" and entry["file_path"] == str(folder.resolve())
        assert entry["text"] == decoded[key]["caption"].strip() and entry["text"]
        assert sorted(p.name for p in folder.iterdir()) == sorted(VOID_FILES.values())
        # videos: the shard's mp4 bytes, unchanged, so they decode to the shard's decoded videos
        assert (folder / "rgb_full.mp4").read_bytes() == raw[key]["input_video.mp4"]
        assert (folder / "rgb_removed.mp4").read_bytes() == raw[key]["target_video.mp4"]
        assert np.array_equal(decode_mp4((folder / "rgb_full.mp4").read_bytes()), decoded[key]["input_video"])
        # mask: bit-exact with our reader, an independent rgb24 reader, and after VOID's snapping
        stored = decoded[key]["quadmask"]
        assert np.array_equal(read_mask_mp4(folder / "mask.mp4"), stored)
        frames = _read_rgb24(folder / "mask.mp4")
        assert frames.shape == stored.shape + (3,)
        assert all(np.array_equal(frames[..., c], stored) for c in range(3))
        assert np.array_equal(qm.snap(frames[..., 0]), stored)
        assert set(np.unique(frames).tolist()) <= set(qm.VALUES)
        meta = json.loads((folder / "metadata.json").read_text())
        assert meta["key"] == key and meta["meta"] == decoded[key]["meta"]
        assert meta["index"] == decoded[key]["info"]["index"] and meta["seed"] == decoded[key]["info"]["seed"]
        assert (meta["frames"], meta["height"], meta["width"]) == stored.shape
        assert (folder / "caption.txt").read_text().strip() == entry["text"]


@pytest.mark.render
def test_export_limit_and_relative_paths(dataset, tmp_path):
    manifest = export_void(str(dataset), tmp_path / "e", limit=1, relative_paths=True)
    entries = json.loads(manifest.read_text())
    assert [e["file_path"] for e in entries] == ["00000000"]
    assert (tmp_path / "e" / "00000000" / "mask.mp4").exists()


SECTION_TITLES = ["Overview", "Quadmask value balance", "Pairs with an affected region (63/127)",
                  "Affected and removed area", "Divergence frame",
                  "Family, camera motion, source and negative balance", "Effect categories",
                  "Object displacement between worlds",
                  "Sample grids", "Failures"]


@pytest.mark.render
def test_collect_void_statistics(dataset, shard_samples):
    _, decoded = shard_samples
    a = audit.collect_void(str(dataset), grid=2)
    assert [r["key"] for r in a.rows] == sorted(decoded) and len(a.sheets) == 2
    total = {}
    for s in decoded.values():
        for v, c in zip(*np.unique(s["quadmask"], return_counts=True)):
            total[int(v)] = total.get(int(v), 0) + int(c)
    assert a.value_counts == total
    for r in a.rows:
        q = decoded[r["key"]]["quadmask"]
        assert r["share_127"] == pytest.approx((q == 127).mean())
        assert r["affected_area"] == pytest.approx(((q == 63) | (q == 127)).mean())
        assert r["removed_area"] == pytest.approx(((q == 0) | (q == 63)).mean())
        assert r["family"] == decoded[r["key"]]["meta"]["family"]
        flags = decoded[r["key"]]["effect_categories"]
        assert r["category_pixels"] == {k: int(((flags & b) > 0).sum()) for k, b in ((("shadow", 1), ("reflection", 2),
                                                                                    ("transmission", 4), ("illumination", 8)))}
    # unaffected objects move identically in both worlds (the validator's invariant), affected ones do not
    assert all(o["max_m"] <= 1e-5 for o in a.objects if not o["affected"])
    assert any(o["max_m"] > 1e-3 for o in a.objects if o["affected"])
    assert [audit.VOID_SECTIONS[i](a).title for i in range(len(SECTION_TITLES))] == SECTION_TITLES
    categories = next(f for f in audit.VOID_SECTIONS if f.__name__ == "section_effect_categories")(a)
    assert [t for t, _ in categories.tables] == ["Effects family: pairs per carrier", "Flagged effect pixels per category"]
    assert audit.collect_void(str(dataset), limit=1, grid=0).rows[0]["key"] == "00000000"


@pytest.mark.render
def test_html_report(dataset, tmp_path):
    out = tmp_path / "report.html"
    result = subprocess.run([sys.executable, "-m", "datagen.audit", str(dataset), "--out", str(out), "--limit", "3"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert str(out.resolve()) in result.stdout
    text = out.read_text()
    for title in SECTION_TITLES:
        assert f"<h2>{title}</h2>" in text.replace("&amp;", "&")
    # figures: balance, areas, divergence, family balance, effect categories, displacement, plus one grid per
    # sample (<= 4) and one per effect category the effects family's pairs show
    a = audit.collect_void(str(dataset), limit=3)
    assert text.count('src="data:image/png;base64,') == 6 + NUM + len(a.category_sheets)
    assert "http://" not in text and "https://" not in text, "self-contained"


@pytest.mark.render
def test_failures_from_shard_stats(dataset, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(dataset, copy)
    stats_path = copy / "shard-000001.stats.json"
    stats = json.loads(stats_path.read_text())
    stats["failed"] = [{"index": 3, "key": "00000003", "seed": 1, "attempts": 2, "error": "RuntimeError: boom",
                        "where": "x.py:1"}]
    stats_path.write_text(json.dumps(stats))
    a = audit.collect_void(str(copy), grid=0)
    assert [f["index"] for f in a.failures] == [3]
    html = audit.section_html(audit.section_failures(a))
    assert "RuntimeError: boom" in html


@pytest.mark.render
@pytest.mark.notebook
def test_notebook_executes(dataset, tmp_path):
    pngs, markdown = execute_audit_notebook("audit_void", dataset, tmp_path)
    # the six figures, two sample grids (grid 2) and one grid per effect category in the first three pairs
    assert pngs == 6 + 2 + len(audit.collect_void(str(dataset), limit=3, grid=2).category_sheets)
    for title in SECTION_TITLES:
        assert title in markdown
