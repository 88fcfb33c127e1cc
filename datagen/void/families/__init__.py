"""VOID scene families: each samples a scene, the objects to remove and its causal story.

``sample_pair_scene`` draws a family, optionally turns the scene into a *negative* (the removed
object is a bystander that touches nothing), simulates both worlds and keeps the scene only if
physics tells the story it promised: something is affected in a positive pair, nothing in a
negative one. Rejected draws are retried from derived seeds.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from datagen.core.seeds import weighted_choice
from datagen.void.families import blocker, chain, effects, launch, support
from datagen.void.families.common import FamilyScene, bystander

FAMILIES = {"launch": launch.sample, "support": support.sample, "chain": chain.sample,
            "blocker": blocker.sample, "effects": effects.sample}


class StoryFailed(RuntimeError):
    """No draw of the family told its story within the allowed attempts."""


def make_negative(rng: np.random.Generator, scene: FamilyScene, source) -> FamilyScene | None:
    """Keep everything (the family's interaction still happens in both worlds) and remove a new
    bystander instead."""
    spec = scene.spec
    extra = bystander(rng, source, spec, "bystander")
    if extra is None:
        return None
    spec = dataclasses.replace(spec, objects=[*spec.objects, extra])
    roles = {**scene.story.get("roles", {}), **{n: "kept" for n in scene.removed}, "bystander": "removed"}
    story = {**scene.story, "roles": roles, "expect": "the removed bystander touches nothing"}
    return FamilyScene(spec, ["bystander"], story)


def sample_pair_scene(rng: np.random.Generator, source, render, frames: int, fps: int,
                      families: dict[str, float], negative_rate: float, cf_config,
                      max_attempts: int = 8, physics_rate: int = 240, effect_category: str | None = None):
    """(FamilyScene, factual WorldStates, WorldComparison) whose physics tells the story.
    ``effect_category``: the effects family's carrier (None: drawn)."""
    from datagen.void.pairs import compare_worlds
    from datagen.scene.simulate import simulate

    names = sorted(k for k, w in families.items() if w > 0)
    unknown = set(families) - set(FAMILIES)
    if unknown or not names:
        raise ValueError(f"families must weight some of {sorted(FAMILIES)}; got {dict(families)}")
    family = weighted_choice(rng, families, names)
    negative = bool(rng.random() < negative_rate)
    reasons = []
    for attempt in range(max_attempts):
        scene = FAMILIES[family](rng, source, render, frames, fps,
                                 **({"category": effect_category} if family == "effects" else {}))
        if negative:
            scene = make_negative(rng, scene, source)
            if scene is None:
                reasons.append("no free spot for a bystander")
                continue
        scene.spec = dataclasses.replace(scene.spec, physics_rate=physics_rate)
        factual = simulate(scene.spec, source=source)
        comparison, _ = compare_worlds(factual, simulate(scene.spec, exclude=scene.removed, source=source),
                                       cf_config, scene.removed)
        if negative == (not comparison.affected):
            scene.story.update(family=family, negative=negative, attempts=attempt + 1)
            if family == "launch":
                scene.story["target_hit"] = any({e["a"], e["b"]} & set(scene.removed) and "target" in (e["a"], e["b"])
                                                for e in factual.collisions)
            return scene, factual, comparison
        reasons.append("something was affected" if negative else "nothing was affected")
    raise StoryFailed(f"{family} ({'negative' if negative else 'positive'}) failed {max_attempts} draws: "
                      f"{'; '.join(sorted(set(reasons)))}")
