"""Dataset audit: figures and tables about a VOID or Vera dataset, as a self-contained HTML report or in a
notebook (the Vera sections are in ``datagen.audit_vera``).

    python -m datagen.audit PATH_OR_URL [--out report.html] [--limit N] [--grid 4]

One implementation serves both readers: ``collect_void`` reads the dataset once into a ``VoidAudit``
(per-sample statistics plus a few decoded samples for pictures), and every ``section_*`` function
turns it into a ``Section`` (title, matplotlib figures, tables as lists of dicts, notes).
``write_report`` renders all ``VOID_SECTIONS`` to one HTML file (figures as base64 PNGs);
``notebooks/audit_void.py`` calls the same section functions and shows them with ``show``.
"""
from __future__ import annotations

import argparse
import base64
import html
import io
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from datagen.labels import quadmask as qm  # noqa: E402
from datagen.runner.sample_io import decode_bytes  # noqa: E402
from datagen.runner.store import SHARD_RE, SUMMARY, Store  # noqa: E402

VALUE_NAMES = {0: "0 removed", 63: "63 overlap", 127: "127 affected", 255: "255 keep"}
VALUE_COLORS = {v: tuple(c / 255 for c in qm.colorize(np.array([[v]], np.uint8))[0, 0]) for v in qm.VALUES}
VALUE_COLORS[255] = (0.75, 0.75, 0.75)


# ---------------------------------------------------------------------------------------------- data
@dataclass
class VoidAudit:
    url: str
    summary: dict
    rows: list[dict]                  # one per audited sample (statistics, no pixels)
    objects: list[dict]               # one per (sample, kept object): displacement between the worlds
    sheets: list[tuple[str, np.ndarray]]  # (key, contact sheet input | target | quadmask | |A-B|)
    failures: list[dict]
    value_counts: dict[int, int] = field(default_factory=dict)  # quadmask pixel counts over all samples


@dataclass
class Section:
    title: str
    figures: list = field(default_factory=list)   # matplotlib Figures
    tables: list[tuple[str, list[dict]]] = field(default_factory=list)  # (caption, rows)
    notes: list[str] = field(default_factory=list)


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


def _failures(url: str, summary: dict) -> list[dict]:
    """Failed samples and tasks: dataset.json's ``failures`` plus any in shard stats it does not list yet."""
    store = Store(url)
    seen, out = set(), []
    for f in summary.get("failures") or []:
        seen.add((f.get("shard"), f.get("index")))
        out.append(dict(f))
    for name in sorted(store.listing()):
        m = SHARD_RE.match(name)
        if not (m and name.endswith(".stats.json")):
            continue
        stats = store.read_json(name)
        for f in stats.get("failed", []):
            if (stats.get("shard"), f.get("index")) not in seen:
                out.append({"shard": stats.get("shard"), "tar": stats.get("tar"), **f})
    return out


def collect_void(url: str, limit: int | None = None, grid: int = 4, max_frames: int = 6) -> VoidAudit:
    """Read up to ``limit`` samples of a VOID dataset (all if None); decode the videos of the first ``grid``."""
    from datagen.runner.reader import open_dataset
    from datagen.void_counterfactuals import preview_columns
    from datagen.preview import contact_sheet

    summary = Store(url).read_json(SUMMARY)
    if summary.get("generator") != "datagen.void_counterfactuals":
        raise ValueError(f"{url}: generator is {summary.get('generator')!r}, not datagen.void_counterfactuals")
    ds = open_dataset(url, decode=None, shardshuffle=False, split_by_node=False, split_by_worker=False)
    rows, objects, sheets, totals = [], [], [], Counter()
    for n, raw in enumerate(ds):
        if limit is not None and n >= limit:
            break
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
        })
        if len(sheets) < grid:
            sample = {"input_video": decode_bytes("mp4", raw["input_video.mp4"]),
                      "target_video": decode_bytes("mp4", raw["target_video.mp4"]), "quadmask": mask}
            sheets.append((key, contact_sheet(preview_columns(sample), max_frames=max_frames)))
    return VoidAudit(url=str(url), summary=summary, rows=rows, objects=objects, sheets=sheets,
                     failures=_failures(url, summary), value_counts=dict(totals))


# ------------------------------------------------------------------------------------------ sections
def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def section_overview(a: VoidAudit) -> Section:
    s, counts = a.summary, a.summary.get("counts") or {}
    render = (s.get("config") or {}).get("render") or {}
    rows = [{"field": k, "value": v} for k, v in [
        ("dataset", a.url), ("generator", s.get("generator")), ("status", s.get("status")),
        ("config_hash", s.get("config_hash")), ("git commit", (s.get("git") or {}).get("commit")),
        ("render (WxH, frames, fps, spp)", f"{render.get('width')}x{render.get('height')}, {render.get('frames')}, "
                                           f"{render.get('fps')}, {render.get('spp')}"),
        ("samples planned / written / failed", f"{counts.get('planned_samples')} / {counts.get('written_samples')} / "
                                               f"{counts.get('failed_samples')}"),
        ("shards done / partial / planned", f"{counts.get('done_shards')} / {counts.get('partial_shards')} / "
                                            f"{counts.get('planned_shards')}"),
        ("samples audited", len(a.rows)),
        ("failures listed", len(a.failures)),
    ]]
    return Section("Overview", tables=[("Run", rows)])


def section_quadmask_balance(a: VoidAudit) -> Section:
    total = sum(a.value_counts.values()) or 1
    overall = [{"value": VALUE_NAMES.get(v, str(v)), "pixels": a.value_counts.get(v, 0),
                "share": _pct(a.value_counts.get(v, 0) / total)} for v in sorted(set(qm.VALUES) | set(a.value_counts))]
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
    per_sample = [{"key": r["key"], "family": r["family"], **{VALUE_NAMES[v]: _pct(r[f"share_{v}"]) for v in qm.VALUES},
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
                     "with any 63": _pct(sum(r["has_63"] for r in sel) / m) if m else "-",
                     "with any 127": _pct(sum(r["has_127"] for r in sel) / m) if m else "-",
                     "with any 63 or 127": _pct(sum(r["has_63_or_127"] for r in sel) / m) if m else "-"})
    notes = [f"{sum(r['has_63_or_127'] for r in a.rows)} of {n if a.rows else 0} pairs mark an affected or overlap region."]
    return Section("Pairs with an affected region (63/127)", tables=[("Share of pairs", rows)], notes=notes)


def _hist(ax, values, title, xlabel, bins=20, discrete=False):
    values = [v for v in values if v is not None]
    if not values:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    elif discrete:
        c = Counter(values)
        ax.bar(list(c), list(c.values()), color="tab:blue", edgecolor="k")
    else:
        ax.hist(values, bins=bins, color="tab:blue", edgecolor="k")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("pairs")


def section_areas(a: VoidAudit) -> Section:
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.4))
    _hist(ax0, [100 * r["affected_area"] for r in a.rows], "affected area (63 + 127)", "% of clip pixels")
    _hist(ax1, [100 * r["removed_area"] for r in a.rows], "removed area (0 + 63)", "% of clip pixels")
    fig.tight_layout()
    stats = []
    for name in ("affected_area", "removed_area"):
        v = np.array([r[name] for r in a.rows]) if a.rows else np.zeros(1)
        stats.append({"quantity": name, "min": _pct(v.min()), "median": _pct(float(np.median(v))),
                      "mean": _pct(v.mean()), "max": _pct(v.max()), "zero": int((v == 0).sum()) if a.rows else 0})
    return Section("Affected and removed area", figures=[fig], tables=[("Area statistics", stats)])


def section_divergence(a: VoidAudit) -> Section:
    fig, ax = plt.subplots(figsize=(6, 3.2))
    divs = [r["divergence_frame"] for r in a.rows]
    _hist(ax, divs, "first frame where the worlds differ", "divergence frame", discrete=True)
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
        tables.append((name, [{name: k, "pairs": c[k], "share": _pct(c[k] / max(len(a.rows), 1))} for k in labels]))
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
    _hist(ax1, [r["max_displacement_m"] for r in a.rows], "per pair (largest object)", "max displacement (m)")
    fig.tight_layout()
    rows = [{"key": o["key"], "object": o["object"], "affected": o["affected"], "max (m)": f"{o['max_m']:.3g}",
             "final (m)": f"{o['final_m']:.3g}"} for o in a.objects]
    unaffected = [o["max_m"] for o in a.objects if not o["affected"]]
    notes = [f"largest displacement of an unaffected object: {max(unaffected, default=0.0):.3g} m "
             "(the validator requires <= 1e-5 m)."]
    return Section("Object displacement between worlds", figures=[fig], tables=[("Kept objects", rows)], notes=notes)


def section_samples(a: VoidAudit) -> Section:
    figs = []
    for key, sheet in a.sheets:
        h, w = sheet.shape[:2]
        scale = min(10 / w * 100, 8 / h * 100, 3.0)
        fig, ax = plt.subplots(figsize=(max(w * scale / 100, 4), max(h * scale / 100, 2)))
        ax.imshow(sheet, interpolation="nearest")
        ax.set_axis_off()
        row = next((r for r in a.rows if r["key"] == key), {})
        ax.set_title(f"{key}  {row.get('family', '')}{' (negative)' if row.get('negative') else ''}: "
                     "input | target | quadmask | |A-B|x4", fontsize=9)
        fig.tight_layout()
        figs.append(fig)
    captions = [{"key": r["key"], "caption": r["caption"]} for r in a.rows[:len(a.sheets)]]
    return Section("Sample grids", figures=figs, tables=[("Captions (of the target video)", captions)],
                   notes=["quadmask colours: red removed (0), magenta overlap (63), yellow affected (127), dark keep (255)."])


def section_failures(a: VoidAudit) -> Section:
    rows = [{"shard": f.get("shard"), "index": f.get("index", f.get("indices", "")), "attempts": f.get("attempts", ""),
             "error": str(f.get("error", ""))[:300], "where": f.get("where", "")} for f in a.failures]
    notes = [] if rows else ["no failures recorded in dataset.json or the shard stats."]
    return Section("Failures", tables=[("Failed samples and tasks", rows)], notes=notes)


VOID_SECTIONS: list[Callable[[VoidAudit], Section]] = [
    section_overview, section_quadmask_balance, section_masked_pairs, section_areas, section_divergence,
    section_balance, section_displacement, section_samples, section_failures]


# -------------------------------------------------------------------------------------------- output
def fig_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def table_html(rows: list[dict], max_rows: int = 200) -> str:
    if not rows:
        return "<p><i>(empty)</i></p>"
    cols = list(dict.fromkeys(k for r in rows for k in r))
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(r.get(c, '')))}</td>" for c in cols) + "</tr>"
                   for r in rows[:max_rows])
    more = f"<p><i>{len(rows) - max_rows} more rows not shown</i></p>" if len(rows) > max_rows else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def section_html(section: Section) -> str:
    parts = [f"<h2>{html.escape(section.title)}</h2>"]
    parts += [f"<p>{html.escape(n)}</p>" for n in section.notes]
    for fig in section.figures:
        data = base64.b64encode(fig_png(fig)).decode("ascii")
        parts.append(f'<img src="data:image/png;base64,{data}" alt="{html.escape(section.title)}">')
    for caption, rows in section.tables:
        parts.append(f"<h3>{html.escape(caption)}</h3>{table_html(rows)}")
    return "\n".join(parts)


_CSS = """body{font-family:sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;font-size:12px;
margin-bottom:1em}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}
th{background:#eee}img{max-width:100%;display:block;margin:.5em 0}h2{border-bottom:2px solid #444;margin-top:1.5em}"""


def render_html(a, sections=None) -> str:
    """The report of a collected audit (``VoidAudit`` or ``datagen.audit_vera.VeraAudit``)."""
    from datagen.audit_vera import VERA_SECTIONS, VeraAudit

    vera = isinstance(a, VeraAudit)
    body = "\n".join(section_html(fn(a)) for fn in (sections or (VERA_SECTIONS if vera else VOID_SECTIONS)))
    title = f"{'Vera' if vera else 'VOID'} dataset audit: {html.escape(a.url)}"
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title><style>{_CSS}</style>"
            f"</head><body><h1>{title}</h1>\n{body}\n</body></html>\n")


def collect(url: str, limit: int | None = None, grid: int = 4):
    """Audit data of a VOID or Vera dataset, chosen by its generator."""
    from datagen.audit_vera import GENERATOR as VERA, collect_vera

    generator = Store(url).read_json(SUMMARY).get("generator")
    if generator == VERA:
        return collect_vera(url, limit=limit, grid=grid)
    if generator == "datagen.void_counterfactuals":
        return collect_void(url, limit=limit, grid=grid)
    raise ValueError(f"{url}: no audit for generator {generator!r} (VOID and Vera datasets only)")


def write_report(url: str, out: str | Path, limit: int | None = None, grid: int = 4) -> Path:
    """Write the self-contained HTML report (written to a temporary name, then renamed)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(render_html(collect(url, limit=limit, grid=grid)), encoding="utf-8")
    tmp.replace(out)
    return out


def show(section: Section) -> None:
    """Display a section in a notebook (figures inline, tables as HTML); prints outside IPython."""
    try:
        from IPython.display import HTML, Markdown, display
    except ImportError:  # pragma: no cover
        print(section.title, section.notes, section.tables)
        return
    display(Markdown(f"## {section.title}"))
    for n in section.notes:
        display(Markdown(n))
    for fig in section.figures:
        display(fig)
        plt.close(fig)
    for caption, rows in section.tables:
        display(HTML(f"<h4>{html.escape(caption)}</h4>{table_html(rows)}"))


def _default_out(url: str) -> Path:
    if "://" not in url:
        return Path(url) / "audit" / "report.html"
    return Path("audit_report.html")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m datagen.audit", description=__doc__.split("\n\n")[0])
    parser.add_argument("path", help="dataset directory or fsspec URL (a VOID or Vera generator run)")
    parser.add_argument("--out", default=None, help="HTML file (default: PATH/audit/report.html, or "
                                                    "./audit_report.html for a URL)")
    parser.add_argument("--limit", type=int, default=None, help="audit only the first N samples")
    parser.add_argument("--grid", type=int, default=4, help="samples shown as contact sheets")
    args = parser.parse_args(argv)
    try:
        out = write_report(args.path, args.out or _default_out(args.path), limit=args.limit, grid=args.grid)
    except (ValueError, FileNotFoundError) as e:
        raise SystemExit(f"error: {e}".splitlines()[0]) from None
    print(f"wrote {out.resolve()}")


if __name__ == "__main__":
    main()
