"""Audit of a Vera layered dataset: the same ``Section``s as the VOID audit (``datagen.audit``), for the
HTML report and ``notebooks/audit_vera.py``.

``collect_vera`` reads the dataset once: per clip the alpha statistics (share of transparent,
semi-transparent and opaque pixels, a histogram of alpha values), the composite residual
``|alpha * edit_rgb + (1 - alpha) * input - composite|`` measured on the decoded videos, task, family and
instruction length, plus contact sheets (input | edit over checkerboard | alpha | composite) of a few.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from datagen.audit.report import (Section, hist, pct, plt, recorded_failures, section_failures, section_overview,
                                  sheet_figures)
from datagen.dataset.generators import VERA
from datagen.dataset.sample_io import decode_bytes
from datagen.dataset.store import SUMMARY, Store

GENERATOR = VERA


@dataclass
class VeraAudit:
    url: str
    summary: dict
    rows: list[dict]
    sheets: list[tuple[str, np.ndarray]]
    failures: list[dict]
    alpha_hist: np.ndarray = field(default_factory=lambda: np.zeros(256, np.int64))  # counts of 0..255


def composite_residual(sample: dict) -> np.ndarray:
    """Per-pixel max over RGB of |alpha*edit + (1-alpha)*input - composite| in grey levels (T,H,W)."""
    a = sample["edit_alpha"].astype(np.float32)[..., None] / 255.0
    pred = a * sample["edit_rgb"].astype(np.float32) + (1 - a) * sample["input_video"].astype(np.float32)
    return np.abs(pred - sample["composite"].astype(np.float32)).max(-1)


def collect_vera(url: str, limit: int | None = None, grid: int = 4, max_frames: int = 6) -> VeraAudit:
    """Read up to ``limit`` clips of a Vera dataset (all if None); contact sheets of the first ``grid``."""
    from datagen.core.pictures import contact_sheet
    from datagen.dataset.reader import iter_samples
    from datagen.vera.preview import columns as preview_columns

    summary = Store(url).read_json(SUMMARY)
    if summary.get("generator") != GENERATOR:
        raise ValueError(f"{url}: generator is {summary.get('generator')!r}, not {GENERATOR}")
    rows, sheets, hist = [], [], np.zeros(256, np.int64)
    for raw in iter_samples(url, decode=None, limit=limit):
        key = raw["__key__"]
        sample = {k: decode_bytes("mp4", raw[f"{k}.mp4"]) for k in ("input_video", "edit_rgb", "composite")}
        sample["edit_alpha"] = decode_bytes("npy.gz", raw["edit_alpha.npy.gz"])
        sample["mask"] = decode_bytes("npy.gz", raw["mask.npy.gz"])
        meta = decode_bytes("json", raw["meta.json"])
        instruction = decode_bytes("txt", raw["edit_instruction.txt"]).strip()
        alpha = sample["edit_alpha"]
        counts = np.bincount(alpha.ravel(), minlength=256)
        hist += counts
        total = alpha.size
        res = composite_residual(sample)
        rows.append({
            "key": key, "task": meta.get("task", "?"), "family": meta.get("family", "?"),
            "subject_kind": meta.get("subject_kind", "object"),  # datasets written before people were objects
            "motion": (meta.get("person") or {}).get("motion", ""),
            "frames": int(alpha.shape[0]), "height": int(alpha.shape[1]), "width": int(alpha.shape[2]),
            "alpha_zero": counts[0] / total, "alpha_semi": counts[1:255].sum() / total, "alpha_one": counts[255] / total,
            "subject_area": float((sample["mask"] > 0).mean()),
            "residual_mean": float(res.mean()), "residual_p99": float(np.percentile(res, 99)),
            "residual_max": float(res.max()),
            "render_residual_mean": ((meta.get("residual") or {}).get("residual_vs_render") or {}).get("mean"),
            "instruction_words": len(instruction.split()), "instruction_chars": len(instruction),
            "instruction": instruction,
        })
        if len(sheets) < grid:
            sheets.append((key, contact_sheet(preview_columns(sample), max_frames=max_frames)))
    return VeraAudit(url=str(url), summary=summary, rows=rows, sheets=sheets, failures=recorded_failures(url, summary),
                     alpha_hist=hist)


def section_alpha(a: VeraAudit) -> Section:
    total = int(a.alpha_hist.sum()) or 1
    semi = int(a.alpha_hist[1:255].sum())
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 3.4))
    ax0.bar(np.arange(256), a.alpha_hist / total, width=1.0, color="tab:purple")
    ax0.set_yscale("log")
    ax0.set_xlabel("alpha (0..255)")
    ax0.set_ylabel("share of all pixels (log)")
    ax0.set_title("alpha values, all clips")
    semi_vals = np.repeat(np.arange(1, 255), a.alpha_hist[1:255]) if semi else []
    hist(ax1, [100 * r["alpha_semi"] for r in a.rows], "semi-transparent share per clip", "% of clip pixels")
    ax1.set_ylabel("clips")
    fig.tight_layout()
    rows = [{"key": r["key"], "task": r["task"], "alpha 0": pct(r["alpha_zero"]), "0 < alpha < 1": pct(r["alpha_semi"]),
             "alpha 1": pct(r["alpha_one"]), "subject area": pct(r["subject_area"])} for r in a.rows]
    notes = [f"semi-transparent pixels (0 < alpha < 255): {pct(semi / total)} of all pixels"
             + (f", median value {int(np.median(semi_vals))}" if semi else "")]
    return Section("Alpha mattes", figures=[fig], tables=[("Per clip", rows)], notes=notes)


def section_residuals(a: VeraAudit) -> Section:
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.4))
    hist(ax0, [r["residual_mean"] for r in a.rows], "mean |a*edit + (1-a)*input - composite|", "grey levels")
    hist(ax1, [r["residual_p99"] for r in a.rows], "99th percentile", "grey levels")
    for ax in (ax0, ax1):
        ax.set_ylabel("clips")
    fig.tight_layout()
    rows = [{"key": r["key"], "task": r["task"], "mean": f"{r['residual_mean']:.3f}", "p99": f"{r['residual_p99']:.1f}",
             "max": f"{r['residual_max']:.0f}",
             "before encoding (meta)": "" if r["render_residual_mean"] is None else f"{r['render_residual_mean']:.4f}"}
            for r in a.rows]
    return Section("Composite residuals", figures=[fig], tables=[("Per clip (decoded videos)", rows)],
                   notes=["Measured on the stored (decoded) videos, so it includes video coding error; the "
                          "validator bounds the mean. 'before encoding' is the exact decomposition's residual."])


def section_balance(a: VeraAudit) -> Section:
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.4))
    tables = []
    for ax, name in zip(axes[:3], ("task", "family", "subject_kind")):
        c = Counter(str(r[name]) for r in a.rows)
        labels = sorted(c)
        ax.bar(labels, [c[k] for k in labels], color="tab:green", edgecolor="k")
        ax.set_title(name)
        ax.tick_params(axis="x", rotation=20)
        tables.append((name, [{name: k, "clips": c[k], "share": pct(c[k] / max(len(a.rows), 1))} for k in labels]))
    pairs = Counter((r["family"], r["task"]) for r in a.rows)
    tables.append(("family x task", [{"family": f, "task": t, "clips": n} for (f, t), n in sorted(pairs.items())]))
    kinds = Counter((r["family"], r["subject_kind"]) for r in a.rows)
    tables.append(("family x subject kind", [{"family": f, "subject_kind": k, "clips": n}
                                              for (f, k), n in sorted(kinds.items())]))
    motions = Counter(r["motion"] for r in a.rows if r["subject_kind"] == "person")
    if motions:
        tables.append(("people's motions", [{"motion": m or "footage", "clips": n} for m, n in sorted(motions.items())]))
    hist(axes[3], [r["instruction_words"] for r in a.rows], "edit instruction length", "words")
    axes[3].set_ylabel("clips")
    axes[0].set_ylabel("clips")
    fig.tight_layout()
    words = [r["instruction_words"] for r in a.rows] or [0]
    notes = [f"instruction length: median {int(np.median(words))} words, min {min(words)}, max {max(words)}"]
    return Section("Task, family and subject balance, instruction lengths", figures=[fig], tables=tables, notes=notes)


def section_samples(a: VeraAudit) -> Section:
    rows = {r["key"]: r for r in a.rows}
    figs = sheet_figures(a.sheets, lambda key: f"{key}  {rows.get(key, {}).get('family', '')} / "
                         f"{rows.get(key, {}).get('task', '')}: input | edit over checkerboard | alpha | composite")
    texts = [{"key": r["key"], "edit_instruction": r["instruction"]} for r in a.rows[:len(a.sheets)]]
    return Section("Sample grids", figures=figs, tables=[("Edit instructions", texts)])


VERA_SECTIONS: list[Callable[[VeraAudit], Section]] = [
    section_overview, section_alpha, section_residuals, section_balance, section_samples, section_failures]
