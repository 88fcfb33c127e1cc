"""People as Vera's subject, in every family: a posed anny body under a named motion, rendered and decomposed
exactly (checked on the decoded files), its alpha covering the person and their shadow, feet planted, the
words from the body's spec, and the same bytes twice."""
from __future__ import annotations

import numpy as np
import pytest

from datagen.labels.quadmask import dilate
from datagen.runner import load_config, run
from datagen.runner.validate import validate
from runner_helpers import tar_bytes

pytestmark = pytest.mark.render

# 5 frames at 4 fps: the first 1.25 s of each motion, enough for the pose to change
TINY = ["render.width=96", "render.height=64", "render.frames=5", "render.fps=4", "render.spp=2",
        "runner.progress=false", "runner.mode=local", "runner.cpus_per_task=2",
        "vera.subjects.object=0", "vera.subjects.person=1"]
PLAN = {"synthetic": "object_addition", "single_object": "matting", "multi_object": "background_change"}


def _run(out, family: str):
    """One person sample of ``family`` with its task in PLAN, through the runner."""
    weights = [f"vera.families.{f}={1.0 if f == family else 0.0}" for f in PLAN]
    weights += [f"vera.tasks.{t}={1.0 if t == PLAN[family] else 0.0}" for t in set(PLAN.values())]
    cfg = load_config("vera_layers", [f"out={out}", "num_samples=1", *TINY, *weights])
    assert run(cfg).ok
    return out


@pytest.fixture(scope="module")
def people(tmp_path_factory):
    from datagen.dataset.reader import iter_samples

    root = tmp_path_factory.mktemp("vera_people")
    outs = [_run(root / family, family) for family in PLAN]
    return outs, [s for out in outs for s in iter_samples(str(out))]


def test_every_family_makes_valid_person_samples(people):
    outs, samples = people
    for out in outs:
        lines = []
        assert validate(str(out), emit=lines.append) == (1, 0), lines  # the composite, through the decoded files
    assert {(s["meta"]["family"], s["meta"]["task"]) for s in samples} == set(PLAN.items())
    for s in samples:
        m = s["meta"]
        assert m["subject_kind"] == "person" and m["person"]["model"] == "anny"
        assert m["person"]["phenotype"]["age"] >= 0.67, "adults only"
        assert m["person"]["motion"] in ("walk", "turn", "wave", "sit")
        assert (s["mask"] == 255).any()
        words = s["edit_instruction"]
        assert any(w in words for w in (" man ", " woman ", " person ")) and " trousers" in words


def test_alpha_covers_the_person_and_their_shadow(people):
    _, samples = people
    for s in (s for s in samples if s["meta"]["task"] != "background_change"):
        person, alpha = s["mask"] == 255, s["edit_alpha"]
        assert (alpha[person] >= 128).all(), s["meta"]["family"]
        shadow = (alpha > 0) & ~dilate(person, 2)
        assert shadow.sum() > 10, (s["meta"]["family"], int(shadow.sum()))  # the shadow is in the layer
    kept = next(s for s in samples if s["meta"]["task"] == "background_change")
    person = kept["mask"] == 255
    assert (kept["edit_alpha"][~dilate(person, 2)] == 255).mean() > 0.95  # all new around the kept person


def test_the_pose_changes_and_the_feet_stay_planted(people):
    from datagen.humans import contact
    from datagen.humans.body import body_mesh
    from datagen.scene.spec import SceneSpec

    for s in people[1]:
        m = s["meta"]
        scene = m["foreground"]["scene"] if m["family"] == "synthetic" else m["scene"]
        body = SceneSpec.from_dict(scene).bodies[0]
        mesh = body_mesh(body, m["render"]["frames"], m["render"]["fps"])
        moved = np.abs(np.diff(mesh.vertices, axis=0)).max(axis=(1, 2))
        assert (moved > 1e-3).sum() >= 2, (m["person"]["motion"], moved)
        assert contact.foot_slide(mesh.vertices, mesh.feet).max() <= contact.MAX_SLIDE
        assert not np.array_equal(s["mask"][0], s["mask"][-1])


def test_person_samples_are_deterministic(people, tmp_path):
    assert tar_bytes(_run(tmp_path / "again", "synthetic")) == tar_bytes(people[0][0])


def test_a_users_smplx_body_and_amass_motion(tmp_path):
    """vera.person.body=smplx: the user's SMPL-X model (a random one of the real shapes) under their
    AMASS-style motion, as the person of a rendered family; a missing model fails before any work."""
    from datagen.dataset.reader import iter_samples
    from datagen.humans import smplx_body
    from datagen.runner.config import ConfigError

    from smplx_stand_in import write_random_smplx_model

    (tmp_path / "models").mkdir()
    model = write_random_smplx_model(tmp_path / "models")
    motions = tmp_path / "motion"
    motions.mkdir()
    smplx_body.write_amass_motion(motions / "stroll.npz", smplx_body.procedural_motion(40, fps=30.0))
    person = ["vera.person.body=smplx", f"vera.person.smplx.model={model.parent}", f"vera.person.smplx.motion={motions}"]
    weights = [f"vera.families.{f}={1.0 if f == 'single_object' else 0.0}" for f in PLAN] + \
        [f"vera.tasks.{t}={1.0 if t == 'object_addition' else 0.0}" for t in set(PLAN.values())]
    out = tmp_path / "run"
    assert run(load_config("vera_layers", [f"out={out}", "num_samples=1", *TINY, *weights, *person])).ok
    assert validate(str(out)) == (1, 0)
    (sample,) = list(iter_samples(str(out)))
    assert sample["meta"]["person"]["model"] == "smplx" and sample["meta"]["person"]["sequence"] == "stroll"
    assert (sample["mask"] == 255).any() and "moves as recorded" in sample["edit_instruction"]
    bad = [f"out={tmp_path / 'run2'}", "num_samples=1", *TINY, *weights, "vera.person.body=smplx",
           f"vera.person.smplx.model={tmp_path / 'nowhere'}", f"vera.person.smplx.motion={motions}"]
    with pytest.raises(ConfigError, match="person.smplx.model not found"):
        run(load_config("vera_layers", bad))
    assert not (tmp_path / "run2").exists()
