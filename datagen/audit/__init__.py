"""Dataset audit: figures and tables about a VOID or Vera dataset, as a self-contained HTML report or in a
notebook.

    python -m datagen.audit PATH_OR_URL [--out report.html] [--limit N] [--grid 4]

One implementation serves both readers: ``collect_void`` / ``collect_vera`` read a dataset once, every
``section_*`` turns the result into a ``Section`` (``report.py``), ``write_report`` renders the sections
of the dataset's generator to one HTML file and the notebooks show the same sections with ``show``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from datagen.audit.report import (Section, default_out, render_html, section_failures, section_html,
                                  section_overview, show)
from datagen.audit.vera import VERA_SECTIONS, VeraAudit, collect_vera
# the VOID sections keep their historical names here (notebooks/audit_void.py); Vera's are in audit.vera
from datagen.audit.void import (VOID_SECTIONS, VoidAudit, collect_void, section_areas, section_balance,
                                section_displacement, section_divergence, section_effect_categories,
                                section_masked_pairs, section_quadmask_balance, section_samples)
from datagen.core.cli import command
from datagen.dataset.store import SUMMARY, Store

__all__ = ["Section", "VoidAudit", "VeraAudit", "VOID_SECTIONS", "VERA_SECTIONS", "collect", "collect_void",
           "collect_vera", "render", "write_report", "show", "section_html", "section_overview",
           "section_failures", "section_quadmask_balance", "section_masked_pairs", "section_areas",
           "section_divergence", "section_balance", "section_effect_categories", "section_displacement",
           "section_samples", "main"]


def collect(url: str, limit: int | None = None, grid: int = 4):
    """Audit data of a VOID or Vera dataset, chosen by its generator."""
    from datagen.audit import vera, void

    generator = Store(url).read_json(SUMMARY).get("generator")
    if generator == vera.GENERATOR:
        return collect_vera(url, limit=limit, grid=grid)
    if generator == void.GENERATOR:
        return collect_void(url, limit=limit, grid=grid)
    raise ValueError(f"{url}: no audit for generator {generator!r} (VOID and Vera datasets only)")


def render(a, sections=None) -> str:
    """The HTML report of a collected audit (``VoidAudit`` or ``VeraAudit``)."""
    vera = isinstance(a, VeraAudit)
    return render_html(a, sections or (VERA_SECTIONS if vera else VOID_SECTIONS),
                       f"{'Vera' if vera else 'VOID'} dataset audit")


def write_report(url: str, out: str | Path, limit: int | None = None, grid: int = 4) -> Path:
    """Write the self-contained HTML report (written to a temporary name, then renamed)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(render(collect(url, limit=limit, grid=grid)), encoding="utf-8")
    tmp.replace(out)
    return out


@command
def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m datagen.audit", description=__doc__.split("\n\n")[0])
    parser.add_argument("path", help="dataset directory or fsspec URL (a VOID or Vera generator run)")
    parser.add_argument("--out", default=None, help="HTML file (default: PATH/audit/report.html, or "
                                                    "./audit_report.html for a URL)")
    parser.add_argument("--limit", type=int, default=None, help="audit only the first N samples")
    parser.add_argument("--grid", type=int, default=4, help="samples shown as contact sheets")
    args = parser.parse_args(argv)
    out = write_report(args.path, args.out or default_out(args.path), limit=args.limit, grid=args.grid)
    print(f"wrote {out.resolve()}")
