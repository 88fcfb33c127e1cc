"""Counterfactual video pairs: the world with some objects, and the same world re-simulated
without them, rendered from one Blender scene, with a quadmask derived from the simulation.

Render plan (each pass with the same camera path, lights and Cycles seed):
  A  factual physics, everything visible                  beauty + labels   (the model input)
  C  factual physics, removed objects hidden               beauty + labels, only inside the boxes where
     the removed things, their floor shadows and mirror images and the glossy props that may reflect
     them are (``scene/region.py``); A's pixels and labels elsewhere
  B  counterfactual physics, removed objects hidden        beauty + labels, only from the frame
     before physics diverges (earlier frames are C's: identical states, identical pixels), and only
     inside the affected objects' boxes in both worlds; C's pixels and labels elsewhere
  E  factual physics, removed objects shadow-only          not rendered: with a fixed seed E equals
     A wherever the removed objects are not seen directly (``tests/test_scene.py`` checks this),
     so the effect footprint (shadows, reflections, bleeding) is A vs C outside the removed
     silhouette. ``render_effects_pass=True`` renders E for real instead.
  C' C with the removed objects seen by one kind of secondary ray (shadow, glossy, transmission,
     diffuse), one pass each, only inside the boxes around the effect footprint: which light paths
     carry each effect pixel (``void/categories.py``, the ``effect_categories`` member)
Where a region frame's change still reaches its box's edge, the box grows there (a strip is rendered), and
a frame still leaking is rendered in full. A pair costs 1 + the beauty pixels of C and B in units of the clip
(``render_cost``); ``region=False`` renders C in full and B from divergence: 2 + (frames after divergence) /
frames. VOID's generator pays 3. The label passes C' are reported beside it (``label_cost``, in units of the
clip at the run's spp).

Labels never read denoised pixels. With ``render.denoise`` every pass also keeps its raw beauty
(``rgb_raw``: with a fixed seed, raw pixels differ between passes only where a light path touched what
changed), and the pixel rule and the effects footprint compare raw passes; the quadmask is the same as
with the denoiser off. The delivered videos are denoised; since the filter spreads a change over its
footprint, the target takes the input's pixel wherever the quadmask keeps (255) and the raw renders of
both worlds agree exactly, so untouched pixels are the input's (``keep_from_input``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from datagen.core.sections import Section
from datagen.labels import quadmask as qm
from datagen.core.rotations import rotation_angle
from datagen.void.categories import category_masks, effect_categories
from datagen.scene.region import base_layers, beauty_layers, influence_boxes, raw, render_region, join_boxes
from datagen.scene.simulate import WorldStates, simulate
from datagen.scene.spec import SceneSpec

MASK_RULES = ("simulation", "pixel", "both")


IDENTICAL_TOLERANCE = 1e-5  # unaffected objects must agree this closely in both worlds (an invariant)
TARGET_LAYERS = ("segmentation", "depth", "forward_flow")  # label layers rendered for B


@dataclass
class MaskConfig(Section):
    """``void.mask`` (with ``humoto.mask`` over it for human removal): how the quadmask is derived. The
    values and their meaning are in configs/datagen/void_counterfactuals.yaml."""
    SECTION = ("void_counterfactuals", "void.mask")
    rule: str  # simulation | pixel (VOID's |C-B| >= threshold) | both
    pixel_threshold: float
    pixel_gamma: float  # compare 255 (x/255)^gamma (VOID's HUMOTO rule: 2.2 with threshold 8)
    pixel_min_neighbours: int  # > 0: drop changed pixels with fewer changed neighbours (render noise)
    effects: bool  # mark the removed objects' shadows and reflections as affected
    effect_threshold: int
    categories: bool  # split the effects by ray kind (effect_categories: every effect pixel gets one or more)
    category_budget: float  # renders of the clip the category passes may spend (their spp halves to fit)
    render_effects_pass: bool
    clear_first_frame: bool
    dilation: int
    position_tolerance: float  # metres: a kept object moved more than this is affected
    rotation_tolerance: float  # radians

    def __post_init__(self):
        if self.rule not in MASK_RULES:
            raise ValueError(f"void.mask.rule={self.rule!r}; choose from {MASK_RULES}")


ENVIRONMENT = ("floor", "wall_back", "wall_side", "?")


@dataclass
class WorldComparison:
    """How every kept object differs between the factual and counterfactual worlds."""
    names: list[str]
    influenced: dict[str, float]  # kept objects in causal contact with a removed one -> from frame
    max_position_error: dict[str, float]
    max_rotation_error: dict[str, float]
    first_divergence: dict[str, int | None]  # first frame above the identical tolerance
    affected: list[str]
    divergence_frame: int | None  # first frame where an affected object differs at all
    noise_removed: dict[str, float]  # largest solver-noise difference replaced by the factual motion

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def influence(removed, *event_lists) -> dict[str, float]:
    """Objects causally reachable from ``removed`` through contacts, with the frame from which.

    A contact transmits from an influenced object to the other one if it lasts until or beyond
    the moment the first was influenced (a resting contact that began earlier counts). The floor
    and walls are static and transmit nothing. Events come from both worlds.
    """
    since = {name: 0.0 for name in removed}
    events = [e for events in event_lists for e in events
              if e["a"] not in ENVIRONMENT and e["b"] not in ENVIRONMENT]
    changed = True
    while changed:
        changed = False
        for e in events:
            for src, dst in ((e["a"], e["b"]), (e["b"], e["a"])):
                if src in since and e["end"] >= since[src]:
                    t = max(float(e["frame"]), since[src])
                    if t < since.get(dst, np.inf):
                        since[dst], changed = t, True
    return {k: v for k, v in since.items() if k not in removed}


def compare_worlds(factual: WorldStates, counterfactual: WorldStates, cfg: MaskConfig,
                   removed=(), influenced: dict[str, float] | None = None) -> tuple[WorldComparison, WorldStates]:
    """Compare both worlds, and clean the counterfactual of solver noise.

    An object that no contact chain links to a removed object cannot be affected by its removal;
    PyBullet still lets tiny numerical differences through (shared solver state), which chaotic
    motion can amplify. Such objects get their factual motion in the counterfactual world (the
    largest difference replaced is recorded), as do influenced objects that moved less than the
    tolerance. What is left differs only where physics says it must. ``influenced`` replaces the
    contact analysis when the removed thing is not simulated (a person: anything may have been
    touched).
    """
    removed = list(removed) or [n for n in factual.names if n not in counterfactual.names]
    if influenced is None:
        influenced = influence(removed, factual.collisions, counterfactual.collisions)
    cleaned = WorldStates(names=list(counterfactual.names), positions=counterfactual.positions.copy(),
                          quaternions=counterfactual.quaternions.copy(),
                          velocities=counterfactual.velocities.copy(),
                          angular_velocities=counterfactual.angular_velocities.copy(),
                          collisions=counterfactual.collisions, seconds=counterfactual.seconds)
    pos_err, rot_err, first, affected, noise = {}, {}, {}, [], {}
    for name in cleaned.names:
        i, k = factual.index(name), cleaned.index(name)
        dp = np.linalg.norm(factual.positions[:, i] - cleaned.positions[:, k], axis=-1)
        dr = rotation_angle(factual.quaternions[:, i], cleaned.quaternions[:, k])
        pos_err[name], rot_err[name] = float(dp.max()), float(dr.max())
        moved = pos_err[name] > cfg.position_tolerance or rot_err[name] > cfg.rotation_tolerance
        if name in influenced and moved:
            affected.append(name)
            differs = np.flatnonzero((dp > IDENTICAL_TOLERANCE) | (dr > IDENTICAL_TOLERANCE))
            first[name] = int(differs[0]) if len(differs) else None
            continue
        first[name] = None
        if pos_err[name] > 0 or rot_err[name] > 0:
            noise[name] = max(pos_err[name], rot_err[name])
        for attr in ("positions", "quaternions", "velocities", "angular_velocities"):
            getattr(cleaned, attr)[:, k] = getattr(factual, attr)[:, i]
    starts = [f for f in first.values() if f is not None]
    comparison = WorldComparison(list(cleaned.names), influenced, pos_err, rot_err, first, affected,
                                 min(starts) if starts else None, noise)
    return comparison, cleaned


@dataclass
class Pair:
    input_video: np.ndarray  # A, (T, H, W, 3) uint8
    target_video: np.ndarray  # B
    quadmask: np.ndarray  # (T, H, W) uint8 in {0, 63, 127, 255}
    target_layers: dict[str, np.ndarray]  # B's label layers (segmentation, depth, forward_flow, ...)
    input_segmentation: np.ndarray  # A's segmentation, (T, H, W) uint16
    factual: WorldStates
    counterfactual: WorldStates
    comparison: WorldComparison
    removed: list[str]
    masks: dict[str, np.ndarray] = field(default_factory=dict)  # the parts of the quadmask, and keep_from_input
    timings: dict[str, float] = field(default_factory=dict)
    render_cost: float = 0.0  # beauty pixels of A, C and B rendered / (frames x width x height)
    label_cost: float = 0.0  # the effect-category passes' pixels, in the same units at the run's spp
    render_report: dict = field(default_factory=dict)  # region passes: beauty pixels, full-frame fallbacks


def make_pair(spec: SceneSpec, removed: list[str], cfg: MaskConfig | None = None,
              source=None, factual: WorldStates | None = None, counterfactual: WorldStates | None = None,
              influenced: dict[str, float] | None = None, region: bool = True) -> Pair:
    """Simulate both worlds (unless given: a person's recorded world is not simulated), render
    A, C and B (from divergence; with ``region`` only where they can differ from A), and derive the
    quadmask."""
    cfg = cfg or MaskConfig.defaults()
    timings: dict[str, float] = {}
    t = time.perf_counter()
    factual = factual if factual is not None else simulate(spec, source=source)
    if counterfactual is None:
        counterfactual = simulate(spec, exclude=removed, source=source)
    comparison, counterfactual = compare_worlds(factual, counterfactual, cfg, removed, influenced)
    timings["simulate"] = time.perf_counter() - t

    from datagen.scene.render import SceneRenderer  # Blender only where pixels are made

    T = spec.frames
    label_layers = tuple(dict.fromkeys(("segmentation", *TARGET_LAYERS)))
    hidden = {name: "hidden" for name in removed}
    report: dict = {}
    t = time.perf_counter()
    with SceneRenderer(spec, source=source) as renderer:
        timings["render_setup"] = time.perf_counter() - t
        beauty = beauty_layers(renderer)
        renderer.set_states(factual)
        t = time.perf_counter()
        # with regions, A also carries what C and B copy outside their boxes: its raw film and label layers
        a = renderer.render(layers=(*base_layers(renderer), *label_layers) if region else (*beauty, "segmentation"))
        timings["render_A"] = time.perf_counter() - t
        t = time.perf_counter()
        if region:  # C differs from A only where the removed things, their shadows and reflections are
            c_boxes = influence_boxes(source, spec, factual, removed)
            c, report["C"] = render_region(renderer, hidden, (*base_layers(renderer), *label_layers), c_boxes, a)
        else:
            c = renderer.render(hidden, layers=(*beauty, *label_layers))
        timings["render_C"] = time.perf_counter() - t
        e_raw = None
        if cfg.effects and cfg.render_effects_pass:
            t = time.perf_counter()
            e_raw = raw(renderer.render({n: "shadow_only" for n in removed}, layers=beauty[-1:]))
            timings["render_E"] = time.perf_counter() - t
        ids = spec.segmentation_ids()
        removed_mask = np.isin(a["segmentation"], [ids[n] for n in removed])
        masks = {"removed": removed_mask}
        if cfg.effects:
            # outside the silhouette grown by the band its dilated mask and dilated effects would
            # share, so the anti-aliased rim of a removed thing never turns the object into 63
            band = 2 * cfg.dilation + 1 if cfg.dilation else 0
            with_effects = e_raw if e_raw is not None else raw(a)
            masks["effects"] = qm.effect_footprint(with_effects, raw(c), cfg.effect_threshold) & \
                ~qm.dilate(removed_mask, band)
            if cfg.categories:  # how each effect pixel is carried; the effects are the union of the flags
                t = time.perf_counter()
                masks["categories"], pixels, category_spp = effect_categories(
                    renderer, removed, masks["effects"], raw(c), cfg.category_budget)
                report["categories"] = {"beauty_pixels": pixels, "frames": int(masks["effects"].any(axis=(1, 2)).sum()),
                                        "full_frames": [], "spp": category_spp}
                timings["render_categories"] = time.perf_counter() - t
        b = {k: v.copy() for k, v in c.items() if k not in ("linear", "albedo", "normal")}
        start = None
        if comparison.divergence_frame is not None:
            start = max(comparison.divergence_frame - 1, 0)  # forward flow at d-1 looks at frame d
            renderer.set_states(counterfactual)
            t = time.perf_counter()
            if region:  # B differs from C only where the affected objects are, in either world
                moved = list(comparison.affected)
                b_boxes = join_boxes(influence_boxes(source, spec, factual, moved),
                                     influence_boxes(source, spec, counterfactual, moved))
                late, report["B"] = render_region(renderer, hidden, (*beauty, *label_layers), b_boxes, c,
                                                  frames=range(start, T))
            else:
                late = renderer.render(hidden, layers=(*beauty, *label_layers), frames=range(start, T))
            timings["render_B"] = time.perf_counter() - t
            for k in b:
                b[k][start:] = late[k]
    full = T * spec.render.width * spec.render.height
    if region:
        cost = 1.0 + sum(report[k]["beauty_pixels"] for k in ("C", "B") if k in report) / full
    else:
        cost = 2.0 + (0 if start is None else (T - start) / T)
    cost += 1.0 if e_raw is not None else 0.0
    label_cost = report.get("categories", {}).get("beauty_pixels", 0) / full

    t = time.perf_counter()
    affected_mask = np.zeros_like(removed_mask)
    if cfg.rule in ("simulation", "both"):
        # an affected object's pixels (in either world) from the frame its trajectories part
        moved = np.zeros_like(removed_mask)
        for name in comparison.affected:
            f = comparison.first_divergence[name]
            moved[f:] |= (c["segmentation"][f:] == ids[name]) | (b["segmentation"][f:] == ids[name])
        masks["affected_objects"] = moved
        affected_mask |= moved
    if cfg.rule in ("pixel", "both"):
        masks["pixel_change"] = qm.pixel_change(raw(c), raw(b), cfg.pixel_threshold, cfg.pixel_gamma,
                                                 cfg.pixel_min_neighbours)
        affected_mask |= masks["pixel_change"]
    if cfg.effects:
        affected_mask |= masks["effects"]
    mask = qm.quadmask(removed_mask, affected_mask, cfg.dilation, cfg.clear_first_frame)
    if "categories" in masks:
        masks["categories"] = category_masks(masks["categories"], mask, cfg.dilation)
    target = b.pop("rgb")
    keep = (mask == qm.KEEP) & (raw(a) == b.pop("rgb_raw", target)).all(axis=-1)
    target[keep] = a["rgb"][keep]
    masks["keep_from_input"] = keep
    timings["labels"] = time.perf_counter() - t
    return Pair(input_video=a["rgb"], target_video=target, quadmask=mask,
                target_layers=b, input_segmentation=a["segmentation"], factual=factual,
                counterfactual=counterfactual, comparison=comparison, removed=list(removed),
                masks=masks, timings=timings, render_cost=round(cost, 4), label_cost=round(label_cost, 4),
                render_report=report)
