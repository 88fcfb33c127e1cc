"""Shared by the audit/export tests: a dataset's samples raw and decoded, and executing an
audit notebook (jupytext percent file) on it."""
from __future__ import annotations

from pathlib import Path

import pytest

from datagen.core.paths import REPO_ROOT


def raw_and_decoded(dataset) -> tuple[dict, dict]:
    """Every sample of ``dataset`` with its member bytes as stored, and decoded; keyed by sample key."""
    from datagen.dataset.reader import iter_samples

    raw = {s["__key__"]: s for s in iter_samples(str(dataset), decode=None)}
    decoded = {s["__key__"]: s for s in iter_samples(str(dataset))}
    return raw, decoded


def execute_audit_notebook(name: str, dataset, out_dir: Path) -> tuple[int, str]:
    """Run ``notebooks/<name>.py`` with its parameters cell set to ``dataset`` (limit 3, grid 2);
    fail on any error output. Returns (number of PNG outputs, all markdown output); the executed
    notebook is written to ``out_dir/<name>.ipynb``."""
    nbformat = pytest.importorskip("nbformat")
    jupytext = pytest.importorskip("jupytext")
    from nbclient import NotebookClient

    nb = jupytext.read(REPO_ROOT / "notebooks" / f"{name}.py")
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    params[0].source = f"dataset = {str(dataset)!r}\nlimit = 3\ngrid = 2\n"
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(REPO_ROOT)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    nbformat.write(nb, Path(out_dir) / f"{name}.ipynb")
    pngs = sum("image/png" in o.get("data", {}) for o in outputs)
    return pngs, "".join(o["data"].get("text/markdown", "") for o in outputs if "data" in o)
