"""The columns ``python -m datagen.preview`` and the audit show for a VOID pair."""
from __future__ import annotations

import numpy as np

from datagen.labels import quadmask as qm


def preview_columns(sample: dict) -> list[np.ndarray]:
    """input | target | coloured quadmask | |A - B| | effect categories (``categories.colorize_categories``;
    datasets written before the member lack the column) (for ``python -m datagen.preview``)."""
    diff = np.abs(sample["input_video"].astype(np.int16) - sample["target_video"].astype(np.int16)).max(-1)
    diff = np.repeat(np.clip(diff * 4, 0, 255).astype(np.uint8)[..., None], 3, axis=-1)
    columns = [sample["input_video"], sample["target_video"], qm.colorize(sample["quadmask"]), diff]
    if "effect_categories" in sample:
        from datagen.void.categories import colorize_categories

        columns.append(colorize_categories(sample["effect_categories"]))
    return columns
