"""Vera's rendered families (``single_object``, ``multi_object``): both worlds come from one
simulation and one Blender scene, so F and P share the camera path, lights and Cycles seed.

Passes per task (T frames, full size):
  object_addition, matting   P  subjects hidden        rgb
                             F  everything visible     rgb + segmentation (the subject's coverage), only
                                inside the box where the subjects can change the picture (body, floor
                                shadows, mirror image, glossy props; ``region.py``), P elsewhere;
                                ``vera.region_render=false`` renders F in full
  background_change          F_A  set A               rgb + segmentation
                             F_B  set B (other sky, sun, floor and props; same subjects, same
                                  camera, subjects replayed from A's simulation)  rgb + segmentation
  multi_object (any task)    +  a label-only pass with the props hidden: the subjects' unoccluded
                                silhouette, to measure how much the occluder hides (1-sample layer)
Background change costs two full renders, addition and matting 1 + the box's share of the frame;
segmentation rides along on the 1-sample label layer.
"""
from __future__ import annotations

import numpy as np

from datagen.vera import tasks as T
from datagen.vera.instructions import describe_rendered
from datagen.scene.region import base_layers, beauty_layers, influence_boxes, raw
from datagen.vera.scenes import VeraScene, other_set, sample_multi, sample_person_scene, sample_single
from datagen.scene.spec import spec_data as data_spec

SAMPLERS = {"single_object": sample_single, "multi_object": sample_multi}


def _ids(spec, names) -> list[int]:
    return [spec.segmentation_id(n) for n in names]


def make(rng, family: str, task: str, source, render, frames: int, fps: int, physics_rate: int,
         fold: T.FoldConfig, passes, region: bool = True, subject: str = "object",
         person: dict | None = None) -> tuple[T.LayeredClip, dict, dict]:
    """(clip, description, meta) of one rendered sample; ``subject``: object or person (``person``: its body
    source, ``scene.people.person_source``)."""
    import dataclasses

    if subject == "person":
        scene: VeraScene = sample_person_scene(rng, source, render, frames, fps, family, person=person)
    else:
        scene = SAMPLERS[family](rng, source, render, frames, fps)
    scene.spec = dataclasses.replace(scene.spec, physics_rate=physics_rate)
    spec, subjects = scene.spec, scene.subjects
    meta: dict = {"scene": data_spec(spec), "subjects": subjects, "props": scene.props, "story": scene.story,
                  "states": scene.states.to_dict()}
    if spec.bodies:
        from datagen.scene.people import person_meta

        meta["person"] = person_meta(spec.bodies[0])
    unoccluded = None
    if task == "background_change":
        set_b = other_set(rng, source, scene)
        with passes.scene(spec, scene.states) as s:
            fa = s.render("F_A", (*beauty_layers(s.renderer), "segmentation"))
            if family == "multi_object":
                unoccluded = s.render("subjects_alone", ("segmentation",), {p: "hidden" for p in scene.props})
        with passes.scene(set_b.spec, set_b.states) as s:
            fb = s.render("F_B", (*beauty_layers(s.renderer), "segmentation"))
        in_a = np.isin(fa["segmentation"], _ids(spec, subjects))
        in_b = np.isin(fb["segmentation"], _ids(set_b.spec, subjects))
        clip = T.background_change(fa["rgb"], fb["rgb"], in_a & in_b, in_b, fold, raw=(raw(fa), raw(fb)))
        description = describe_rendered(spec, scene.states, subjects, in_b, task, family, scene.story["occluder"],
                                        other=set_b.spec)
        meta["scene_b"] = data_spec(set_b.spec)
        visible = in_a
    else:
        with passes.scene(spec, scene.states) as s:
            wanted = (*beauty_layers(s.renderer), "segmentation")
            plate = s.render("P", base_layers(s.renderer) if region else beauty_layers(s.renderer),
                             {n: "hidden" for n in subjects})
            if region:  # F differs from P only where the subjects, their shadows and reflections are
                boxes = influence_boxes(source, spec, scene.states, subjects)
                full, meta["region"] = s.render_region("F", wanted, None, boxes, plate, fold.threshold)
            else:
                full = s.render("F", wanted)
            if family == "multi_object":
                unoccluded = s.render("subjects_alone", ("segmentation",), {p: "hidden" for p in scene.props})
        visible = np.isin(full["segmentation"], _ids(spec, subjects))
        build = T.object_addition if task == "object_addition" else T.matting
        clip = build(full["rgb"], plate["rgb"], visible, visible, fold, raw=(raw(full), raw(plate)))
        description = describe_rendered(spec, scene.states, subjects, visible, task, family, scene.story["occluder"])
    if unoccluded is not None:
        alone = np.isin(unoccluded["segmentation"], _ids(spec, subjects))
        meta["occluded_fraction"] = round(1.0 - float(visible.sum()) / max(float(alone.sum()), 1.0), 4)
    meta["subject_visible_fraction"] = round(float(visible.mean()), 5)
    return clip, description, meta
