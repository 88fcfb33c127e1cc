"""The report engine of ``python -m datagen.audit``: a ``Section`` (title, matplotlib figures, tables as lists
of dicts, notes) and its HTML, shared by the VOID and Vera sections (``datagen.audit.void``,
``datagen.audit.vera``) and by the notebooks (``show``)."""
from __future__ import annotations

import base64
import html
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from datagen.dataset.store import SHARD_RE, Store  # noqa: E402


@dataclass
class Section:
    title: str
    figures: list = field(default_factory=list)   # matplotlib Figures
    tables: list[tuple[str, list[dict]]] = field(default_factory=list)  # (caption, rows)
    notes: list[str] = field(default_factory=list)


def recorded_failures(url: str, summary: dict) -> list[dict]:
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


def pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def hist(ax, values, title, xlabel, bins=20, discrete=False):
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


def section_overview(a) -> Section:
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


def sheet_figures(sheets: list[tuple[str, "object"]], title) -> list:
    """One figure per contact sheet ``(key, image)``, titled ``title(key)``, scaled to fit a page."""
    figs = []
    for key, sheet in sheets:
        h, w = sheet.shape[:2]
        scale = min(10 / w * 100, 8 / h * 100, 3.0)
        fig, ax = plt.subplots(figsize=(max(w * scale / 100, 4), max(h * scale / 100, 2)))
        ax.imshow(sheet, interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(title(key), fontsize=9)
        fig.tight_layout()
        figs.append(fig)
    return figs


def section_failures(a) -> Section:
    rows = [{"shard": f.get("shard"), "index": f.get("index", f.get("indices", "")), "attempts": f.get("attempts", ""),
             "error": str(f.get("error", ""))[:300], "where": f.get("where", "")} for f in a.failures]
    notes = [] if rows else ["no failures recorded in dataset.json or the shard stats."]
    return Section("Failures", tables=[("Failed samples and tasks", rows)], notes=notes)


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


def render_html(a, sections, title: str) -> str:
    """One self-contained HTML page of ``sections`` (functions of the collected audit ``a``)."""
    body = "\n".join(section_html(fn(a)) for fn in sections)
    title = f"{html.escape(title)}: {html.escape(a.url)}"
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title><style>{_CSS}</style>"
            f"</head><body><h1>{title}</h1>\n{body}\n</body></html>\n")


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


def default_out(url: str) -> Path:
    if "://" not in url:
        return Path(url) / "audit" / "report.html"
    return Path("audit_report.html")
