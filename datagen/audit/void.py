"""Audit of a VOID dataset: ``collect_void`` reads it once into a ``VoidAudit`` (per-sample statistics plus
a few decoded samples for pictures), and every ``section_*`` turns it into a ``Section`` for the HTML
report (``python -m datagen.audit``) and ``notebooks/audit_void.py``."""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from datagen.audit.report import (Section, hist, pct, plt, recorded_failures, section_failures, section_overview,
                                  sheet_figures)
from datagen.dataset.generators import VOID
from datagen.dataset.sample_io import decode_bytes
from datagen.dataset.store import SUMMARY, Store
from datagen.labels import quadmask as qm

GENERATOR = VOID
VALUE_NAMES = {0: "0 removed", 63: "63 overlap", 127: "127 affected", 255: "255 keep"}
VALUE_COLORS = {v: tuple(c / 255 for c in qm.colorize(np.array([[v]], np.uint8))[0, 0]) for v in qm.VALUES}
VALUE_COLORS[255] = (0.75, 0.75, 0.75)



@dataclass
class VoidAudit:
    url: str
    summary: dict
    rows: list[dict]                  # one per audited sample (statistics, no pixels)
    objects: list[dict]               # one per (sample, kept object): displacement between the worlds
    sheets: list[tuple[str, np.ndarray]]  # (key, contact sheet input | target | quadmask | |A-B|)
    failures: list[dict]
    value_counts: dict[int, int] = field(default_factory=dict)  # quadmask pixel counts over all samples
    category_sheets: list[tuple[str, np.ndarray]] = field(default_factory=list)  # one per effect_category



def _displacements(meta: dict) -> list[dict]:
    """Per kept object: max and final distance between its factual and counterfactual positions (m)."""
    fac, cf = meta.get("factual") or {}, meta.get("counterfactual") or {}
    if not fac.get("positions") or not cf.get("positions"):
        return []
    pf, pc = np.asarray(fac["positions"], float), np.asarray(cf["positions"], float)  # (T, N, 3)
    t = min(len(pf), len(pc))
    affected = set(meta.get("affected") or [])
    out = []
    for j, name in enumerate(cf.get("names", [])):
        if name not in fac.get("names", []):
            continue
        i = fac["names"].index(name)
        d = np.linalg.norm(pf[:t, i] - pc[:t, j], axis=-1)
        out.append({"object": name, "affected": name in affected, "max_m": float(d.max()), "final_m": float(d[-1])})
    return out



def collect_void(url: str, limit: int | None = None, grid: int = 4, max_frames: int = 6) -> VoidAudit:
    """Read up to ``limit`` samples of a VOID dataset (all if None); decode the videos of the first ``grid``."""
    from datagen.core.pictures import contact_sheet
    from datagen.dataset.reader import iter_samples
    from datagen.void.preview import preview_columns

    summary = Store(url).read_json(SUMMARY)
    if summary.get("generator") != GENERATOR:
        raise ValueError(f"{url}: generator is {summary.get('generator')!r}, not {GENERATOR}")
    rows, objects, sheets, totals = [], [], [], Counter()
    category_sheets, shown = [], set()  # one grid per effect_category, its first pair
    for raw in iter_samples(url, decode=None, limit=limit):
        key = raw["__key__"]
        mask = decode_bytes("npy.gz", raw["quadmask.npy.gz"])
        meta = decode_bytes("json", raw["meta.json"])
        caption = decode_bytes("txt", raw["caption.txt"]) if "caption.txt" in raw else ""
        values, counts = np.unique(mask, return_counts=True)
        vc = {int(v): int(c) for v, c in zip(values, counts)}
        totals.update(vc)
        total = int(mask.size)
        disp = _displacements(meta)
        objects += [{"key": key, **d} for d in disp]
        div = meta.get("divergence_frame")
        rows.append({
            "key": key, "family": meta.get("family", "?"), "negative": bool(meta.get("negative", False)),
            "camera_motion": meta.get("camera_motion", "?"), "source": meta.get("source", "?"),
            "frames": int(mask.shape[0]), "height": int(mask.shape[1]), "width": int(mask.shape[2]),
            **{f"share_{v}": vc.get(v, 0) / total for v in qm.VALUES},
            "other_values": sorted(set(vc) - set(qm.VALUES)),
            "has_63": vc.get(63, 0) > 0, "has_127": vc.get(127, 0) > 0,
            "has_63_or_127": vc.get(63, 0) + vc.get(127, 0) > 0,
            "removed_area": (vc.get(0, 0) + vc.get(63, 0)) / total,
            "affected_area": (vc.get(63, 0) + vc.get(127, 0)) / total,
            "divergence_frame": None if div is None else int(div),
            "num_removed": len(meta.get("removed") or []), "num_affected": len(meta.get("affected") or []),
            "max_displacement_m": max((d["max_m"] for d in disp), default=0.0),
            "target_hit": (meta.get("story") or {}).get("target_hit"),
            "caption": caption.strip(),
            "effect_category": meta.get("effect_category") or "-",
            "category_pixels": meta.get("effect_category_pixels") or {},
        })
        category = meta.get("effect_category")
        first_of_category = bool(category) and category not in shown
        if len(sheets) < grid or first_of_category:
            sample = {"input_video": decode_bytes("mp4", raw["input_video.mp4"]),
                      "target_video": decode_bytes("mp4", raw["target_video.mp4"]), "quadmask": mask}
            if "effect_categories.npy.gz" in raw:
                sample["effect_categories"] = decode_bytes("npy.gz", raw["effect_categories.npy.gz"])
            sheet = contact_sheet(preview_columns(sample), max_frames=max_frames)
            if len(sheets) < grid:
                sheets.append((key, sheet))
            if first_of_category:
                category_sheets.append((key, sheet))
                shown.add(category)
    return VoidAudit(url=str(url), summary=summary, rows=rows, objects=objects, sheets=sheets,
                     failures=recorded_failures(url, summary), value_counts=dict(totals),
                     category_sheets=category_sheets)



def section_quadmask_balance(a: VoidAudit) -> Section:
    total = sum(a.value_counts.values()) or 1
    overall = [{"value": VALUE_NAMES.get(v, str(v)), "pixels": a.value_counts.get(v, 0),
                "share": pct(a.value_counts.get(v, 0) / total)} for v in sorted(set(qm.VALUES) | set(a.value_counts))]
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 3.6), gridspec_kw={"width_ratios": [1, 2.5]})
    shares = [a.value_counts.get(v, 0) / total for v in qm.VALUES]
    ax0.bar([VALUE_NAMES[v] for v in qm.VALUES], shares, color=[VALUE_COLORS[v] for v in qm.VALUES], edgecolor="k")
    ax0.set_yscale("log")
    ax0.set_ylabel("share of all pixels (log)")
    ax0.set_title("overall")
    ax0.tick_params(axis="x", rotation=30)
    keys = [r["key"] for r in a.rows]
    bottom = np.zeros(len(keys))
    for v in (0, 63, 127):
        vals = np.array([100 * r[f"share_{v}"] for r in a.rows])
        ax1.bar(range(len(keys)), vals, bottom=bottom, color=VALUE_COLORS[v], label=VALUE_NAMES[v], width=0.9)
        bottom += vals
    ax1.set_ylabel("% of clip pixels (rest: 255 keep)")
    ax1.set_xticks(range(len(keys)))
    ax1.set_xticklabels(keys if len(keys) <= 30 else [""] * len(keys), rotation=90, fontsize=7)
    ax1.set_title("per sample (stacked share)")
    ax1.legend(fontsize=7)
    fig.tight_layout()
    per_sample = [{"key": r["key"], "family": r["family"], **{VALUE_NAMES[v]: pct(r[f"share_{v}"]) for v in qm.VALUES},
                   "other values": r["other_values"] or ""} for r in a.rows]
    notes = []
    bad = [r["key"] for r in a.rows if r["other_values"]]
    if bad:
        notes.append(f"samples with values outside 0/63/127/255: {bad}")
    return Section("Quadmask value balance", figures=[fig],
                   tables=[("Overall", overall), ("Per sample", per_sample)], notes=notes)


def section_masked_pairs(a: VoidAudit) -> Section:
    n = len(a.rows) or 1
    rows = []
    for group, sel in [("all", a.rows), ("positive", [r for r in a.rows if not r["negative"]]),
                       ("negative", [r for r in a.rows if r["negative"]])]:
        m = len(sel)
        rows.append({"pairs": group, "count": m,
                     "with any 63": pct(sum(r["has_63"] for r in sel) / m) if m else "-",
                     "with any 127": pct(sum(r["has_127"] for r in sel) / m) if m else "-",
                     "with any 63 or 127": pct(sum(r["has_63_or_127"] for r in sel) / m) if m else "-"})
    notes = [f"{sum(r['has_63_or_127'] for r in a.rows)} of {n if a.rows else 0} pairs mark an affected or overlap region."]
    return Section("Pairs with an affected region (63/127)", tables=[("Share of pairs", rows)], notes=notes)


def section_areas(a: VoidAudit) -> Section:
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.4))
    hist(ax0, [100 * r["affected_area"] for r in a.rows], "affected area (63 + 127)", "% of clip pixels")
    hist(ax1, [100 * r["removed_area"] for r in a.rows], "removed area (0 + 63)", "% of clip pixels")
    fig.tight_layout()
    stats = []
    for name in ("affected_area", "removed_area"):
        v = np.array([r[name] for r in a.rows]) if a.rows else np.zeros(1)
        stats.append({"quantity": name, "min": pct(v.min()), "median": pct(float(np.median(v))),
                      "mean": pct(v.mean()), "max": pct(v.max()), "zero": int((v == 0).sum()) if a.rows else 0})
    return Section("Affected and removed area", figures=[fig], tables=[("Area statistics", stats)])


def section_divergence(a: VoidAudit) -> Section:
    fig, ax = plt.subplots(figsize=(6, 3.2))
    divs = [r["divergence_frame"] for r in a.rows]
    hist(ax, divs, "first frame where the worlds differ", "divergence frame", discrete=True)
    fig.tight_layout()
    none = sum(d is None for d in divs)
    notes = [f"{none} pairs have no divergence frame (negatives or nothing affected)."]
    rows = [{"divergence_frame": k, "pairs": v} for k, v in sorted(Counter(d for d in divs if d is not None).items())]
    return Section("Divergence frame", figures=[fig], tables=[("Pairs per divergence frame", rows)], notes=notes)


BALANCE_FIELDS = ("family", "camera_motion", "source", "negative")


def section_balance(a: VoidAudit) -> Section:
    fig, axes = plt.subplots(1, len(BALANCE_FIELDS), figsize=(3.2 * len(BALANCE_FIELDS), 3.2))
    tables = []
    for ax, name in zip(axes, BALANCE_FIELDS):
        c = Counter(str(r[name]) for r in a.rows)
        labels = sorted(c)
        ax.bar(labels, [c[k] for k in labels], color="tab:green", edgecolor="k")
        ax.set_title(name)
        ax.tick_params(axis="x", rotation=30)
        tables.append((name, [{name: k, "pairs": c[k], "share": pct(c[k] / max(len(a.rows), 1))} for k in labels]))
    axes[0].set_ylabel("pairs")
    fig.tight_layout()
    return Section("Family, camera motion, source and negative balance", figures=[fig], tables=tables)


def section_displacement(a: VoidAudit) -> Section:
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.4))
    for flag, color, label in [(True, "tab:orange", "affected"), (False, "tab:blue", "not affected")]:
        vals = [max(o["max_m"], 1e-7) for o in a.objects if o["affected"] == flag]
        if vals:
            bins = np.logspace(-7, max(1.0, math.log10(max(vals)) + 0.1), 30)
            ax0.hist(vals, bins=bins, alpha=0.7, color=color, label=label, edgecolor="k")
    ax0.set_xscale("log")
    ax0.set_xlabel("max |factual - counterfactual| position (m, floored at 1e-7)")
    ax0.set_ylabel("kept objects")
    ax0.set_title("per kept object")
    ax0.legend(fontsize=8)
    hist(ax1, [r["max_displacement_m"] for r in a.rows], "per pair (largest object)", "max displacement (m)")
    fig.tight_layout()
    rows = [{"key": o["key"], "object": o["object"], "affected": o["affected"], "max (m)": f"{o['max_m']:.3g}",
             "final (m)": f"{o['final_m']:.3g}"} for o in a.objects]
    unaffected = [o["max_m"] for o in a.objects if not o["affected"]]
    notes = [f"largest displacement of an unaffected object: {max(unaffected, default=0.0):.3g} m "
             "(the validator requires <= 1e-5 m)."]
    return Section("Object displacement between worlds", figures=[fig], tables=[("Kept objects", rows)], notes=notes)


def section_samples(a: VoidAudit) -> Section:
    rows = {r["key"]: r for r in a.rows}

    def title(key: str) -> str:
        row = rows.get(key, {})
        return (f"{key}  {row.get('family', '')}{' (negative)' if row.get('negative') else ''}: "
                "input | target | quadmask | |A-B|x4" + (" | categories" if row.get("category_pixels") else ""))

    figs = sheet_figures(a.sheets, title)
    captions = [{"key": r["key"], "caption": r["caption"]} for r in a.rows[:len(a.sheets)]]
    return Section("Sample grids", figures=figs, tables=[("Captions (of the target video)", captions)],
                   notes=["quadmask colours: red removed (0), magenta overlap (63), yellow affected (127), dark keep (255)."])


def section_effect_categories(a: VoidAudit) -> Section:
    """The effects family's carriers (pairs per ``effect_category``) and, over every pair, how the effect pixels
    split by the light path that carries them (``effect_categories``), with one sample grid per carrier."""
    from datagen.void.categories import CATEGORY_BITS

    carriers = Counter(r["effect_category"] for r in a.rows if r["effect_category"] != "-")
    pixels = {name: sum(r["category_pixels"].get(name, 0) for r in a.rows) for name in CATEGORY_BITS}
    flagged = [r for r in a.rows if r["category_pixels"]]
    if not flagged:
        return Section("Effect categories", notes=["no pair carries effect categories (void.mask.categories=false, "
                                                   "or a dataset written before them)."])
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.2))
    labels = sorted(carriers)
    ax0.bar(labels or ["(none)"], [carriers[k] for k in labels] or [0], color="tab:purple", edgecolor="k")
    ax0.set_title("effects family: pairs per carrier")
    ax0.tick_params(axis="x", rotation=30)
    total = sum(pixels.values()) or 1
    ax1.bar(list(pixels), [pixels[k] / total for k in pixels], color="tab:cyan", edgecolor="k")
    ax1.set_title("flagged effect pixels per category (all pairs)")
    ax1.set_ylabel("share of flags")
    fig.tight_layout()
    rows = {r["key"]: r for r in a.rows}
    figs = [fig, *sheet_figures(a.category_sheets, lambda key: f"{key}  effects ({rows[key]['effect_category']}): "
                                "input | target | quadmask | |A-B|x4 | categories")]
    tables = [("Effects family: pairs per carrier", [{"effect_category": k, "pairs": carriers[k],
                                                      "share": pct(carriers[k] / max(sum(carriers.values()), 1))} for k in labels]),
              ("Flagged effect pixels per category", [{"category": k, "pixels": v, "share": pct(v / total),
                                                       "pairs with it": sum(1 for r in flagged if r["category_pixels"].get(k))}
                                                      for k, v in pixels.items()])]
    return Section("Effect categories", figures=figs, tables=tables,
                   notes=["category colours: blue shadow, green reflection, magenta transmission, orange illumination "
                          "(a pixel may carry several)."])


VOID_SECTIONS: list[Callable[[VoidAudit], Section]] = [
    section_overview, section_quadmask_balance, section_masked_pairs, section_areas, section_divergence,
    section_balance, section_effect_categories, section_displacement, section_samples, section_failures]
