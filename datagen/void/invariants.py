"""What every VOID pair must satisfy, checked on the decoded sample (``python -m datagen.validate`` and the
end of every generation run): sizes, quadmask values, 0/63 exactly the removed objects in A, nothing
removed in B, unaffected objects identical in both worlds, an affected region where physics says so,
human-removal starts from the recording, a caption."""
from __future__ import annotations

import numpy as np

from datagen.core.rotations import rotation_angle
from datagen.labels import quadmask as qm
from datagen.scene.simulate import WorldStates


def _sizes(sample, config) -> list[str]:
    t, h, w = sample["input_video"].shape[:3]
    errors = []
    for name in ("target_video", "quadmask", "input_segmentation", "target_segmentation", "effects", "effect_categories"):
        if name not in sample:  # effect_categories: datasets written before it existed
            continue
        if tuple(sample[name].shape[:3]) != (t, h, w):
            errors.append(f"{name}: shape {tuple(sample[name].shape[:3])} != input_video's {(t, h, w)}")
    f = int(sample["meta"].get("label_downsample", 1))
    small = (t, len(range(f // 2, h, f)), len(range(f // 2, w, f))) if f > 1 else (t, h, w)
    for name in ("target_depth", "target_forward_flow"):
        if tuple(sample[name].shape[:3]) != small:
            errors.append(f"{name}: shape {tuple(sample[name].shape[:3])} != {small} (label_downsample {f})")
    r = config.render
    if (t, h, w) != (r.frames, r.height, r.width):
        errors.append(f"input_video: {(t, h, w)} != configured (frames, height, width) {(r.frames, r.height, r.width)}")
    return errors


def _mask_values(sample, config) -> list[str]:
    clear = bool(sample["meta"].get("mask_config", {}).get("clear_first_frame", True))
    return [f"quadmask: {e}" for e in qm.check_quadmask(sample["quadmask"], clear_first_frame=clear)]


def _removed_region(sample, config) -> list[str]:
    """0 and 63 are exactly the removed objects' pixels in A (dilated as configured)."""
    meta = sample["meta"]
    removed = np.isin(sample["input_segmentation"], meta["removed_ids"])
    removed = qm.dilate(removed, int(meta["mask_config"].get("dilation", 0)))
    marked = np.isin(sample["quadmask"], (qm.OBJECT, qm.OVERLAP))
    wrong = int((removed != marked).sum())
    return [f"quadmask: {wrong} pixels where 0/63 disagree with the removed objects in A"] if wrong else []


def _removed_absent_from_target(sample, config) -> list[str]:
    n = int(np.isin(sample["target_segmentation"], sample["meta"]["removed_ids"]).sum())
    return [f"target: {n} pixels of removed objects in B"] if n else []


def _unaffected_identical(sample, config) -> list[str]:
    meta = sample["meta"]
    f, c = WorldStates.from_dict(meta["factual"]), WorldStates.from_dict(meta["counterfactual"])
    errors = []
    for name in c.names:
        if name in meta["affected"]:
            continue
        pf, qf = f.trajectory(name)
        pc, qc = c.trajectory(name)
        dp, dr = float(np.abs(pf - pc).max()), float(rotation_angle(qf, qc).max())
        if dp > 1e-5 or dr > 1e-5:
            errors.append(f"{name}: unaffected but differs between worlds (position {dp:.2e} m, rotation {dr:.2e} rad)")
    return errors


def _affected_region(sample, config) -> list[str]:
    """Negative pairs change nothing but the removed object's own effects; positive pairs mark
    what they change wherever an affected object is in view."""
    meta, mask = sample["meta"], sample["quadmask"]
    changed = np.isin(mask, (qm.AFFECTED, qm.OVERLAP))
    if meta["negative"]:
        if meta["affected"]:
            return [f"negative pair with affected objects {meta['affected']}"]
        effects = qm.dilate(sample["effects"].astype(bool), int(meta["mask_config"].get("dilation", 0)))
        extra = int((changed & ~effects).sum())
        return [f"negative pair: {extra} pixels of 127/63 beyond the removed object's own effects"] if extra else []
    first = 1 if meta["mask_config"].get("clear_first_frame", True) else 0
    visible = np.isin(sample["target_segmentation"][first:], meta["affected_ids"]).any() or \
        np.isin(sample["input_segmentation"][first:], meta["affected_ids"]).any()
    if meta["affected"] and visible and not changed.any():
        return [f"affected objects {meta['affected']} are visible but 127 is empty"]
    return []


def _released_from_recorded_start(sample, config) -> list[str]:
    """Human removal: every object starts the counterfactual where the recording has it at frame 0,
    and static objects never move in it."""
    meta = sample["meta"]
    if meta.get("source") != "humoto":
        return []
    f, c = WorldStates.from_dict(meta["factual"]), WorldStates.from_dict(meta["counterfactual"])
    errors = []
    for name in c.names:
        pf, _ = f.trajectory(name)
        pc, _ = c.trajectory(name)
        if float(np.abs(pf[0] - pc[0]).max()) > 1e-4:
            errors.append(f"{name}: counterfactual starts {float(np.abs(pf[0] - pc[0]).max()):.2e} m from the recording")
        if meta["story"]["modes"].get(name) == "static" and float(np.abs(pc - pc[0]).max()) > 1e-6:
            errors.append(f"{name}: static but moves in the counterfactual")
    return errors


def _effect_categories(sample, config) -> list[str]:
    """Every flag lies inside 127, only known bits are set, and every effect pixel carries a flag (the
    effects part of 127 is the union of the flags)."""
    from datagen.void.categories import CATEGORY_BITS

    if "effect_categories" not in sample:
        return []
    flags, mask, effects = sample["effect_categories"], sample["quadmask"], sample["effects"].astype(bool)
    if not sample["meta"]["mask_config"].get("categories", False):
        return [] if not flags.any() else [f"effect_categories: {int((flags > 0).sum())} flags with categories off"]
    errors = []
    unknown = int((flags & ~np.uint8(sum(CATEGORY_BITS.values()))).astype(bool).sum())
    if unknown:
        errors.append(f"effect_categories: {unknown} pixels with bits outside {CATEGORY_BITS}")
    outside = int(((flags > 0) & (mask != qm.AFFECTED)).sum())
    if outside:
        errors.append(f"effect_categories: {outside} flagged pixels outside 127")
    unflagged = int((effects & (mask == qm.AFFECTED) & (flags == 0)).sum())
    if unflagged:
        errors.append(f"effect_categories: {unflagged} effect pixels of 127 carry no flag")
    return errors


def _caption(sample, config) -> list[str]:
    return [] if sample["caption"].strip() else ["caption: empty"]


INVARIANTS = (_sizes, _mask_values, _removed_region, _removed_absent_from_target, _unaffected_identical,
              _affected_region, _released_from_recorded_start, _effect_categories, _caption)
