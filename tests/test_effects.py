"""Side effects beyond shadows: the effects family per category, and effect categories from Cycles' per-object
ray visibility. Tiny renders (96x64, 6 frames, 2 spp) through the generator's own make_sample, plus one
hand-built scene for the transmission flag (glass between the camera and the removed object)."""
from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest

from datagen.labels import quadmask as qm
from datagen.void.categories import CATEGORY_BITS
from test_void import _config, _errors  # the VOID tests' tiny config (96x64, 6 frames, 2 spp) and invariants

import datagen.void_counterfactuals as void  # noqa: E402

pytestmark = pytest.mark.render

FAMILIES = ("launch", "support", "chain", "blocker", "effects")
SHADOW, REFLECTION, TRANSMISSION, ILLUMINATION = (CATEGORY_BITS[k] for k in CATEGORY_BITS)


@pytest.fixture(scope="module")
def pairs():
    out = {}
    for category in ("shadow", "reflection", "mirror", "translucency", "light"):
        cfg = _config(*[f"void.families.{f}={1 if f == 'effects' else 0}" for f in FAMILIES],
                      "void.negative_rate=0", f"void.effects.category={category}")
        out[category] = (void.make_sample(cfg, 0, 2024), cfg)
    return out


@pytest.mark.parametrize("category", ["shadow", "reflection", "mirror", "translucency", "light"])
def test_effects_pairs_validate_and_carry_their_category(pairs, category):
    sample, cfg = pairs[category]
    meta, flags, mask = sample["meta"], sample["effect_categories"], sample["quadmask"]
    assert meta["family"] == "effects" and meta["effect_category"] == category and meta["story"]["effect_category"] == category
    assert _errors(sample, cfg) == []
    assert flags.dtype == np.uint8 and flags.shape == mask.shape
    # the invariants, spelled out: flags only inside 127, every effect pixel of 127 flagged
    assert not ((flags > 0) & (mask != qm.AFFECTED)).any()
    effects = sample["effects"].astype(bool) & (mask == qm.AFFECTED)
    assert effects.any() and (flags[effects] > 0).all()
    assert meta["effect_category_pixels"] == {k: int(((flags & b) > 0).sum()) for k, b in CATEGORY_BITS.items()}
    assert "categories" in meta["render_passes"] and meta["render_passes"]["categories"]["spp"] >= 1


def test_each_category_shows_its_effect(pairs):
    flags = {c: s["effect_categories"] for c, (s, _) in pairs.items()}
    scenes = {c: s["meta"]["scene"] for c, (s, _) in pairs.items()}
    assert (flags["shadow"] & SHADOW).sum() > 20
    assert scenes["shadow"]["environment"]["walls"] == 1 and scenes["shadow"]["environment"]["sun_elevation"] < 0.36
    assert (flags["reflection"] & REFLECTION).sum() > 10
    assert scenes["reflection"]["environment"]["floor"] == "marble"
    removed = pairs["translucency"][0]["meta"]["removed"]
    assert all(o["material"]["preset"] == "glass" for o in scenes["translucency"]["objects"] if o["name"] in removed)
    glow = [o for o in scenes["light"]["objects"] if o["name"] in pairs["light"][0]["meta"]["removed"]]
    assert glow and all(o["material"]["emission"] > 0 for o in glow)


def test_mirror_pairs_flag_the_reflection_inside_the_mirror_as_127(pairs):
    """The thrown objects seen in the mirror wall are 127 with a reflection flag, away from their own pixels."""
    from datagen.assets.library import AssetsConfig, open_scene_library
    from datagen.scene.geometry import project
    from datagen.scene.region import corners, wall_mirror
    from datagen.scene.simulate import WorldStates
    from datagen.scene.spec import SceneSpec

    sample, _ = pairs["mirror"]
    meta, flags, mask = sample["meta"], sample["effect_categories"], sample["quadmask"]
    spec = SceneSpec.from_dict(meta["scene"])
    assert spec.environment.walls == 1 and spec.environment.wall_finish == "mirror"
    library = open_scene_library(AssetsConfig.defaults())
    states = WorldStates.from_dict(meta["factual"])
    image = np.zeros(mask.shape, bool)
    for name in meta["removed"]:
        pts = project(spec.camera, spec.frames, 96, 64, wall_mirror(corners(library, spec, states, name), spec.environment))
        for t in range(spec.frames):
            (r0, c0), (r1, c1) = np.floor(pts[t].min(0)).astype(int), np.ceil(pts[t].max(0)).astype(int)
            image[t, max(r0, 0):max(r1, 0), max(c0, 0):max(c1, 0)] = True
    own = qm.dilate(np.isin(sample["input_segmentation"], meta["removed_ids"]), 3)
    seen = image & ~own
    assert ((flags & REFLECTION) > 0)[seen].sum() > 5, "the mirror image is flagged as a reflection"
    assert (mask[seen & ((flags & REFLECTION) > 0)] == qm.AFFECTED).all()


def test_light_pairs_change_the_illumination_beyond_the_silhouette(pairs):
    sample, _ = pairs["light"]
    flags = sample["effect_categories"]
    own = qm.dilate(np.isin(sample["input_segmentation"], sample["meta"]["removed_ids"]), 3)
    lit = ((flags & ILLUMINATION) > 0) & ~own
    assert lit.sum() > 50
    # and the target is really darker there: the glow is gone
    a, b = sample["input_video"].astype(np.float32), sample["target_video"].astype(np.float32)
    assert (a[lit].mean() - b[lit].mean()) > 3


def test_invariants_catch_wrong_categories(pairs):
    sample, cfg = pairs["shadow"]
    bad = copy.deepcopy(sample)
    bad["effect_categories"][bad["quadmask"] == qm.KEEP] = SHADOW
    assert any("outside 127" in e for e in _errors(bad, cfg))
    bad = copy.deepcopy(sample)
    bad["effect_categories"][:] = 0
    assert any("carry no flag" in e for e in _errors(bad, cfg))
    bad = copy.deepcopy(sample)
    bad["effect_categories"][bad["effect_categories"] > 0] |= 32
    assert any("bits outside" in e for e in _errors(bad, cfg))


def test_glass_between_camera_and_object_carries_the_transmission_flag():
    """A removed ball behind a kept glass vessel: what the vessel shows of it is transmission (and only the
    transmission pass reaches it through the glass); with nothing transmissive kept, the pass is skipped."""
    from datagen.assets import open_asset_source
    from datagen.scene.render import SceneRenderer
    from datagen.scene.simulate import simulate
    from datagen.scene.spec import (CameraSpec, EnvironmentSpec, LightSpec, MaterialSpec, ObjectSpec, RenderSpec,
                                    SceneSpec)
    from datagen.void.categories import effect_categories

    source = open_asset_source(None)
    ball = ObjectSpec("ball", "sphere", MaterialSpec("plastic", (0.9, 0.2, 0.1)), 2.0, position=(0.0, 0.5, 0.22), static=True)
    vessel = ObjectSpec("vessel", "cylinder", MaterialSpec("glass", (0.95, 0.97, 1.0)), 2.5, position=(0.0, 0.0, 0.275),
                        static=True)
    spec = SceneSpec(objects=[ball, vessel], camera=CameraSpec(position=(0.0, -1.3, 0.4), look_at=(0.0, 0.3, 0.22)),
                     lights=[LightSpec(kind="sun", position=(3, -4, 5), look_at=(0, 0, 0), intensity=3.0)],
                     environment=EnvironmentSpec(background="sky", floor="checker"),
                     render=RenderSpec(width=64, height=48, spp=4, threads=2, seed=0, denoise=False), frames=1, fps=12)
    states = simulate(spec, source=source)
    with SceneRenderer(spec, source=source) as r:
        r.set_states(states)
        a = r.render(layers=("rgb_raw", "segmentation"))
        c = r.render({"ball": "hidden"}, layers=("rgb_raw",))["rgb_raw"]
        footprint = qm.effect_footprint(a["rgb_raw"], c) & (a["segmentation"] != 1)
        flags, pixels, spp = effect_categories(r, ["ball"], footprint, c, budget=10.0)
        glass = a["segmentation"] == 2
        assert ((flags & TRANSMISSION) > 0)[glass].sum() > 10, "the ball seen through the vessel"
        assert pixels > 0 and spp == 4 and (flags[footprint] > 0).all() and not flags[~footprint].any()
        # the default budget (0.5 renders) halves the passes' spp until they fit: fewer pixel-samples, same flags' support
        budgeted, cheaper, fewer = effect_categories(r, ["ball"], footprint, c)
        assert fewer < 4 and cheaper < pixels and ((budgeted > 0) == footprint).all()
        plain = dataclasses.replace(spec, objects=[ball, dataclasses.replace(vessel, material=MaterialSpec("plastic"))])
    with SceneRenderer(plain, source=source) as r:
        r.set_states(simulate(plain, source=source))
        a = r.render(layers=("rgb_raw", "segmentation"))
        c = r.render({"ball": "hidden"}, layers=("rgb_raw",))["rgb_raw"]
        footprint = qm.effect_footprint(a["rgb_raw"], c) & (a["segmentation"] != 1)
        flags, _, _ = effect_categories(r, ["ball"], footprint, c)
        assert not (flags & TRANSMISSION).any()
