"""Where counterfactory keeps things it builds once and reuses (asset library, body models)."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def cache_dir(*parts: str) -> Path:
    """``$COUNTERFACTORY_CACHE`` (default ``~/.cache/counterfactory``) joined with ``parts``, created."""
    root = Path(os.environ.get("COUNTERFACTORY_CACHE", Path.home() / ".cache" / "counterfactory"))
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
