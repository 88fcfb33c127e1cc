"""Edit instructions, written from the scene description like the public Vera set's: long and
cinematic — what to add or change, its material and motion, the lighting, the shot and camera
move, and "Keep ... intact" for everything that must not change.

``describe_*`` turn a scene (spec, simulated states, masks) into a plain description dict, stored
in the sample's metadata; ``instruction(description)`` writes the text from that dict alone, so
the words never mention something the clip does not show.
"""
from __future__ import annotations

import math

import numpy as np

from datagen.scene.describe import FLOORS, article, describe_motion, describe_object, object_phrase

SKY = {"low": "low, warm sunlight {side} that rakes across the ground and stretches the shadows",
       "mid": "clear afternoon sunlight {side}", "high": "bright, high midday sun {side}"}
CAMERA = {"static": "a locked-off camera holds the frame", "dolly": "the camera slowly dollies in",
          "zoom": "the lens slowly zooms in", "zoom_out": "the lens slowly zooms out",
          "pan_left": "the camera pans gently to the left", "pan_right": "the camera pans gently to the right",
          "orbit_ccw": "the camera glides in a slow counter-clockwise orbit around the action",
          "orbit_cw": "the camera glides in a slow clockwise orbit around the action",
          "track": "the camera follows the action"}
GLOSSY = {"mirror", "marble", "tiles"}


# -- geometry to words ------------------------------------------------------------------------------
def sun_words(env, sun, camera) -> dict:
    """Elevation band and where the light comes from, seen from the camera."""
    elevation = math.degrees(env.sun_elevation)
    band = "low" if elevation < 32 else "high" if elevation > 50 else "mid"
    to_sun = np.asarray(sun.position, float) - np.asarray(sun.look_at, float)
    fwd = np.asarray(camera.look_at, float) - np.asarray(camera.position, float)
    s, f = to_sun[:2] / (np.linalg.norm(to_sun[:2]) + 1e-9), fwd[:2] / (np.linalg.norm(fwd[:2]) + 1e-9)
    right = np.array([f[1], -f[0]])
    if float(s @ -f) > 0.6:
        side, shadow = "from behind the camera", "away from the camera"
    elif float(s @ f) > 0.6:
        side, shadow = "from behind the scene, backlighting it", "toward the camera"
    elif float(s @ right) > 0:
        side, shadow = "from the right", "to the left"
    else:
        side, shadow = "from the left", "to the right"
    return {"light": SKY[band].format(side=side), "shadow_direction": shadow, "sun_band": band}


def camera_words(camera, coverage_height: float) -> dict:
    """Shot size from how much of the frame height the subject fills; angle from the camera's
    elevation; the move from the camera path."""
    shot = ("close-up" if coverage_height > 0.45 else "medium shot" if coverage_height > 0.2 else
            "wide shot" if coverage_height > 0.08 else "extreme wide shot")
    rel = np.asarray(camera.position, float) - np.asarray(camera.look_at, float)
    elevation = math.degrees(math.atan2(rel[2], float(np.linalg.norm(rel[:2]))))
    angle = "eye-level" if elevation < 15 else "slightly high-angle" if elevation < 35 else "high-angle"
    key = camera.motion
    if key == "zoom" and camera.amount < 0:
        key = "zoom_out"
    elif key == "pan":
        key = "pan_left" if camera.amount > 0 else "pan_right"
    elif key == "orbit":
        key = "orbit_ccw" if camera.amount > 0 else "orbit_cw"
    return {"shot": shot, "angle": angle, "camera": CAMERA[key]}


def screen_path(rows_cols: np.ndarray, width: int, height: int, distances: np.ndarray) -> str:
    """Where a subject goes in the picture: across, toward or away from the camera, up or down."""
    ok = np.isfinite(rows_cols).all(axis=-1)
    if ok.sum() < 2:
        return ""
    rc, d = rows_cols[ok], distances[ok]
    dx, dy = (rc[-1, 1] - rc[0, 1]) / width, (rc[-1, 0] - rc[0, 0]) / height
    dd = (d[-1] - d[0]) / max(d[0], 1e-6)
    parts = []
    if abs(dx) > 0.08:
        parts.append("from left to right" if dx > 0 else "from right to left")
    if dd < -0.12:
        parts.append("toward the camera")
    elif dd > 0.12:
        parts.append("away from the camera")
    elif abs(dy) > 0.12 and not parts:
        parts.append("down through the frame" if dy > 0 else "up through the frame")
    return " and ".join(parts)


def subject_height(mask: np.ndarray) -> float:
    """Median over frames of the subject's bounding-box height as a fraction of the frame."""
    rows = np.asarray(mask).any(axis=-1)
    heights = [(np.flatnonzero(r)[-1] - np.flatnonzero(r)[0] + 1) / len(r) for r in rows if r.any()]
    return float(np.median(heights)) if heights else 0.0


def prop_phrase(o, assets: str | None = None) -> str:
    return object_phrase(o.asset_id, o.material.preset, o.material.color, assets)


def setting_words(spec) -> dict:
    env = spec.environment
    floor = FLOORS.get(env.floor, "an open ground") if env.floor else "an open ground"
    return {"floor": floor, "sky": "under an open sky" if env.background == "sky" else "in a studio"}


# -- descriptions -----------------------------------------------------------------------------------
def describe_rendered(spec, states, subjects, mask, task: str, family: str, occluder: str | None = None,
                      other=None) -> dict:
    """The words of a rendered sample (``other``: set B's spec for background change)."""
    from datagen.scene.geometry import project

    r = spec.render
    cam_pos = np.array([p for p, _, _ in spec.camera.poses(spec.frames)])
    bodies = {b.name: b for b in spec.bodies}
    subs = []
    for name in subjects:
        if name in bodies:  # a person: words from the body's spec and its named motion
            from datagen.humans.body import body_mesh
            from datagen.scene.people import MOTION_WORDS, describe_person, pronoun

            p = body_mesh(bodies[name], spec.frames, spec.fps).vertices.mean(axis=1).astype(np.float64)
            phrase, material, motion = describe_person(bodies[name]), None, MOTION_WORDS[bodies[name].motion]
            refer = pronoun(bodies[name])
        else:
            p = states.trajectory(name)[0]
            phrase, material = describe_object(spec, name), spec.objects[spec.index(name)].material.preset
            motion, refer = describe_motion(spec, states, name), "it"
        rc = project(spec.camera, spec.frames, r.width, r.height, p[:, None, :])[:, 0]
        subs.append({"phrase": phrase, "material": material, "motion": motion, "pronoun": refer,
                     "path": screen_path(rc, r.width, r.height, np.linalg.norm(p - cam_pos, axis=1))})
    props = [o for o in spec.objects if o.name not in subjects]
    effects = ["shadow"]
    if spec.environment.floor in GLOSSY:
        effects.append("floor_reflection")
    if any(o.material.preset == "metal" for o in props):
        effects.append("prop_reflection")
    if occluder:
        effects.append("occlusion")
    d = {"task": task, "family": family, "subjects": subs, "effects": effects,
         "occluder": prop_phrase(spec.objects[spec.index(occluder)], spec.assets) if occluder else None,
         "props": [prop_phrase(o, spec.assets) for o in props if o.name != occluder],
         **setting_words(spec), **sun_words(spec.environment, spec.lights[0], spec.camera),
         **camera_words(spec.camera, subject_height(mask))}
    if other is not None:
        b_props = [o for o in other.objects if o.name not in subjects]
        d["new"] = {**setting_words(other), **sun_words(other.environment, other.lights[0], other.camera),
                    "props": [prop_phrase(o, other.assets) for o in b_props]}
    return d


def describe_synthetic(layer_words: dict, kind: str, path: dict, width: int, height: int, task: str,
                       backgrounds: list[dict], mask: np.ndarray) -> dict:
    """The words of a synthetic composite; ``backgrounds`` describe A (and B for background change)."""
    centre, scale = path["centre"], path["scale"]
    dx, growth = (centre[-1][0] - centre[0][0]) / width, scale[-1] / scale[0] - 1
    moves = [layer_words["motion"]]
    if abs(dx) > 0.06:
        moves.append("drifts from left to right" if dx > 0 else "drifts from right to left")
    if growth > 0.08:
        moves.append("grows slightly larger as if coming closer")
    elif growth < -0.08:
        moves.append("shrinks slightly as if moving away")
    if kind == "rendered" and "object" in layer_words:
        phrase = object_phrase(layer_words['object'], layer_words['material'], layer_words['color'],
                               layer_words.get('assets'))
        material = layer_words["material"]
    else:
        phrase, material = layer_words["phrase"], None
    x = centre[len(centre) // 2][0] / width
    where = "on the left of the frame" if x < 0.4 else "on the right of the frame" if x > 0.6 else "near the centre of the frame"
    sub = {"phrase": phrase, "material": material, "motion": _list(moves), "path": "", "where": where,
           "pronoun": layer_words.get("pronoun", "it")}
    shot = camera_words(_Still(), subject_height(mask))
    return {"task": task, "family": "synthetic", "subjects": [sub], "effects": [], "occluder": None,
            "backgrounds": backgrounds, "shot": shot["shot"], "kind": kind}


class _Still:  # a camera stand-in for shot size only
    position, look_at, motion, amount = (0.0, -1.0, 0.0), (0.0, 0.0, 0.0), "static", 0.0


def describe_background(spec=None, clip: dict | None = None) -> dict:
    """A rendered set (spec) or a user clip, in words."""
    if spec is None:
        return {"phrase": "the background footage", "props": [], "camera": None, "light": None}
    s, sun = setting_words(spec), sun_words(spec.environment, spec.lights[0], spec.camera)
    return {"phrase": f"{s['floor']} {s['sky']}", "props": [prop_phrase(o, spec.assets) for o in spec.objects],
            "camera": camera_words(spec.camera, 0.3)["camera"], "light": sun["light"]}


# -- text ---------------------------------------------------------------------------------------------
def _list(items: list[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _the(phrase: str) -> str:
    return phrase if phrase.startswith(("the ", "a ", "an ")) else f"the {phrase}"


def _strip_article(phrase: str) -> str:
    for a in ("a ", "an ", "the "):
        if phrase.startswith(a):
            return phrase[len(a):]
    return phrase


def _subject_sentence(s: dict, verb: str) -> str:
    thing = article(_strip_article(s["phrase"])) if not s["phrase"].startswith(("a ", "an ")) else s["phrase"]
    motion = s["motion"] if s["motion"] != "stays where it is" else "rests in place"
    path = f", travelling {s['path']}" if s.get("path") else ""
    where = f" {s['where']}" if s.get("where") else ""
    return f"{verb} {thing}{where} that {motion}{path}".strip()


# how the words refer back to the subjects: (subject, object, possessive, singular verb)
PRONOUNS = {"it": ("It", "it", "its", True), "he": ("He", "him", "his", True), "she": ("She", "her", "her", True),
            "person": ("The person", "the person", "their", True), "they": ("They", "them", "their", False)}


def _pronouns(subs: list[dict]) -> tuple[str, str, str, bool]:
    """Pronouns for the subjects: ``it`` for an object, ``he``/``she``/``person`` for a person (from the
    description's ``pronoun``, itself from the body's spec), ``they`` for several."""
    return PRONOUNS["they" if len(subs) > 1 else subs[0].get("pronoun", "it")]


def _effects(d: dict, pronoun) -> str:
    subject, _, _, singular = pronoun
    s = "s" if singular else ""
    eff = []
    if "shadow" in d["effects"]:
        eff.append(f"cast{s} {'a soft shadow' if s else 'soft shadows'} {d.get('shadow_direction', '')}".rstrip())
    mirrors = ([_the(_strip_article(d["floor"]))] if "floor_reflection" in d["effects"] else []) + \
        (["the metal objects nearby"] if "prop_reflection" in d["effects"] else [])
    if mirrors:
        eff.append(f"{'is' if singular else 'are'} reflected in {_list(mirrors)}")
    if "occlusion" in d["effects"] and d.get("occluder"):
        eff.append(f"pass{'' if s == '' else 'es'} partly behind {_the(d['occluder'])} in the foreground, "
                   "which stays in front")
    text = f"{subject} {_list(eff)}." if eff else ""
    if any(sub.get("material") == "metal" for sub in d["subjects"]):
        text += " The polished metal mirrors the sky and the set around it."
    return text


def _shot(d: dict) -> str:
    return f"{article(d['angle'] + ' ' + d['shot']).capitalize()}; {d['camera']}."


def instruction(d: dict) -> str:
    """The edit instruction of a description (see ``describe_*``)."""
    task, subs = d["task"], d["subjects"]
    names = _list([_the(_strip_article(s["phrase"])) for s in subs])
    pronoun = _pronouns(subs)
    subject, obj, poss, singular = pronoun
    if d["family"] == "synthetic":
        return _synthetic_text(d, names, pronoun)
    keep = [_the(p) for p in d["props"]] + ([_the(d["occluder"])] if d.get("occluder") else [])
    light = f"The scene is lit by {d['light']}."
    if task == "object_addition":
        adds = "Add " + ", and ".join(_subject_sentence(s, "") for s in subs) + f", on {d['floor']} {d['sky']}."
        text = [adds, _effects(d, pronoun), light, _shot(d),
                f"Keep {_list(keep + [d['floor'].replace('a ', 'the ', 1), 'the sky', 'the lighting', 'the camera move'])} intact."]
    elif task == "background_change":
        new = d["new"]
        around = f", with {_list([article(p) for p in new['props']])} nearby" if new["props"] else ""
        text = [f"Replace everything around {names} with {new['floor']} {new['sky']}{around}.",
                f"Relight {obj} with {new['light']}, and let "
                f"{obj} cast {poss} {'shadow' if singular else 'shadows'} "
                f"{new['shadow_direction']} onto the new ground.",
                f"{subject} {'keeps' if singular else 'keep'} moving exactly as before: "
                + "; ".join(f"{_the(_strip_article(s['phrase']))} {s['motion']}" for s in subs) + ".",
                _shot(d), f"Keep {names}, {poss} motion and the camera move intact."]
    else:  # matting
        what = ["shadow"] + (["reflections"] if {"floor_reflection", "prop_reflection"} & set(d["effects"]) else [])
        occl = f" Where {_the(d['occluder'])} passes in front, the matte stays empty." if d.get("occluder") else ""
        text = [f"Extract {names} as a matte layer, together with {poss} "
                f"{_list(what)} on {d['floor'].replace('a ', 'the ', 1)}.",
                " ".join(f"{_the(_strip_article(s['phrase'])).capitalize()} {s['motion']}"
                         + (f", travelling {s['path']}" if s['path'] else "") + "." for s in subs) + occl,
                light, _shot(d), f"Keep the video itself unchanged: {_list(keep + ['the background'])} stay out of the matte."]
    return " ".join(t for t in text if t)


def _synthetic_text(d: dict, names: str, pronoun) -> str:
    s, bgs = d["subjects"][0], d["backgrounds"]
    a = bgs[0]
    motion = s["motion"]
    material = f"Its {s['material']} surface keeps the studio lighting it was rendered with." if s.get("material") else ""
    shot = f"The layer is framed as {article(d['shot'])}."
    its = "their" if d.get("kind") == "videomatte" else pronoun[2]  # footage: people of unknown gender
    it = pronoun[0].lower() if pronoun[0] != "The person" else "the person"
    if d["task"] == "background_change":
        b = bgs[1]
        bits = [f"Replace the background behind {names} with {b['phrase']}"
                + (f", with {_list([article(p) for p in b['props']])}" if b["props"] else "") + ".",
                f"{names.capitalize()} stays in front, {s['where']}, and {motion}."]
        if b.get("light"):
            bits.append(f"The new background is lit by {b['light']}; {b['camera']}.")
        bits += [shot, f"Keep {names} and {its} motion intact."]
        return " ".join(bits)
    keep = [_the(p) for p in a["props"]] or [a["phrase"]]
    where = f" {s['where']}" if s.get("where") else ""
    if d["task"] == "object_addition":
        bits = [f"Add {article(_strip_article(s['phrase']))}{where} over {a['phrase']}: {it} {motion}.", material]
    else:
        bits = [f"Extract {names}{where} as a matte layer: {it} {motion}.", material]
    if a.get("light"):
        bits.append(f"The footage is lit by {a['light']}; {a['camera']}.")
    bits += [shot, f"Keep {_list(keep + ['the rest of the footage'])} intact."]
    return " ".join(b for b in bits if b)
