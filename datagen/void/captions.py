"""VOID's captions: one paragraph describing the counterfactual (target) clip, from the scene description
and the simulated motion of the world without the removed objects."""
from __future__ import annotations

from datagen.scene.describe import article, describe_camera, describe_motion, describe_object, describe_setting
from datagen.scene.simulate import WorldStates
from datagen.scene.spec import SceneSpec


def caption(spec: SceneSpec, states: WorldStates) -> str:
    """One paragraph describing the clip ``states`` came from (objects absent from it are not named)."""
    names = [o.name for o in spec.objects if o.name in states.names]
    sentences = [f"{describe_camera(spec)} {describe_setting(spec)}."]
    if not names:
        sentences.append("The floor is empty.")
    for name in names:
        thing = describe_object(spec, name)
        sentences.append(f"{article(thing).capitalize()} {describe_motion(spec, states, name)}.")
    return " ".join(sentences)
