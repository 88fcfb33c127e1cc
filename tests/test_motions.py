"""Named procedural motions on anny bodies: planted feet stay put (measured on the skinned feet), the
steps follow the body's path, a seated body rests on its chair, and HUMOTO motion retargeted onto other
proportions keeps its feet planted too."""
from __future__ import annotations

import numpy as np
import pytest

from datagen.humans import contact, fixtures
from datagen.humans import skeleton as sk
from datagen.scene.spec import BodySpec

ADULTS = [{"age": 0.7, "gender": 1.0, "height": 0.3, "weight": 0.9},
          {"age": 0.9, "gender": 0.0, "height": 0.55, "weight": 0.1, "muscle": 0.9}]


def _mesh(**kw):
    from datagen.humans import body

    return body.body_mesh(BodySpec(**kw), 25, 8)


@pytest.mark.parametrize("motion", fixtures.MOTIONS)
def test_named_motions_move_with_planted_feet_on_any_adult(motion):
    for phenotype in ADULTS:
        mesh = _mesh(motion=motion, phenotype=phenotype)
        slide = contact.foot_slide(mesh.vertices, mesh.feet)
        assert slide.max() <= contact.MAX_SLIDE, (motion, phenotype, slide.max())
        assert mesh.vertices[..., 2].min() > -0.02  # on the floor, not through it
        # the pose changes from frame to frame under the motion
        moved = np.abs(np.diff(mesh.vertices, axis=0)).max(axis=(1, 2))
        assert (moved > 1e-4).mean() > 0.5


def test_the_slide_measure_catches_sliding_and_ignores_lifted_feet():
    mesh = _mesh(motion="wave", phenotype=ADULTS[0])
    still = contact.foot_slide(mesh.vertices, mesh.feet)
    assert still.max() < 1e-3
    skate = mesh.vertices + np.arange(len(mesh.vertices))[:, None, None] * np.array([0.05, 0.0, 0.0], np.float32)
    assert contact.foot_slide(skate, mesh.feet).max() == pytest.approx(0.05, abs=1e-3)
    flying = skate + np.array([0.0, 0.0, 0.1], np.float32)
    assert contact.foot_slide(flying, mesh.feet).max() == 0.0


def test_steps_follow_the_path_one_foot_at_a_time():
    script = fixtures.walk(90)
    steps = fixtures.plan_steps(script, sk.rest_heads()[sk.INDEX[sk.P + "LeftFoot"], 2])
    left, right = steps.planted["Left"], steps.planted["Right"]
    assert (left | right).all(), "one foot is always on the floor"
    lifts = {side: int((np.diff(p.astype(int)) == -1).sum()) for side, p in steps.planted.items()}
    assert min(lifts.values()) >= 3, lifts  # 2.4 m takes several steps of each foot
    for side, p in steps.planted.items():
        a = steps.ankles[side]
        held = p[1:] & p[:-1]
        assert np.abs(np.diff(a, axis=0)[held]).max() < 1e-12, "a planted foot does not move"
    # the body ends where its feet are: both under it, at rest
    end = script.root_xy[-1]
    for side in ("Left", "Right"):
        assert np.linalg.norm(steps.ankles[side][-1, :2] - end) == pytest.approx(fixtures.FOOT_SPREAD, abs=fixtures.SETTLE)
    # turning on the spot steps too
    turn = fixtures.plan_steps(fixtures.turn(90), 0.07)
    assert all((np.diff(p.astype(int)) == -1).sum() >= 2 for p in turn.planted.values())


def test_a_seated_body_rests_on_a_chair_that_fits_it():
    from datagen.humans.anny_body import anny_model, rest_skeleton

    short = {"age": 0.8, "gender": 1.0, "height": 0.1}
    for phenotype in ADULTS + [short]:
        script = fixtures.script("sit", fixtures.real_time(25, 8)[0], rest_skeleton(anny_model(), phenotype))
        mesh = _mesh(motion="sit", phenotype=phenotype)
        depth = [fixtures.seat_depth(script, v) for v in mesh.vertices]
        assert max(depth) <= 0.015, (phenotype, max(depth))  # seated: 0; sitting down: the flesh meets the edge
        assert mesh.vertices[-1, :, 2].min() < 0.01  # feet still on the floor when seated
        assert script.seat_top <= fixtures.SEAT_HEIGHT
    assert script.seat_top < 0.42  # the short body's chair is lower
    with pytest.raises(ValueError, match="unknown motion 'dance'"):
        fixtures.script("dance", 10)


def test_humoto_motion_retargeted_onto_other_proportions_keeps_feet_planted():
    root = fixtures.default_fixtures()
    for name in ("lift_box", "carry_mug"):
        for phenotype in ADULTS + [{"height": 0.0, "weight": 1.0, "gender": 1.0}]:
            mesh = _mesh(sequence=str(root / name), phenotype=phenotype)
            assert contact.foot_slide(mesh.vertices, mesh.feet).max() <= contact.MAX_SLIDE, (name, phenotype)
