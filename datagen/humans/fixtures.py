"""Small HUMOTO-format sequences made procedurally, for tests, the demo and users without HUMOTO.

    python -m datagen.humans.fixtures DIR          # writes DIR/<sequence>/... and DIR/objects/

Each scenario is a person (the Mixamo rest skeleton of ``assets/humans/mixamo_rest.json``, facing
-Y) handling real meshes from our asset library: object trajectories are scripted first and the
hands follow them by two-bone IK; the legs swing with the distance walked. The motion is simple,
but the files are HUMOTO's format exactly, so the same loader, retarget and renders run on them:
Blender pose channels per bone relative to a character written beside them in HUMOTO's JSON layout
(``DIR/human_model/human_model_up_bone_zup.json``: our skeleton in HUMOTO's recommended ``up_bone``
layout, every bone's axes pointing up), world poses per object, the text as ``short_script``.

  lift_box     a carton rests on a table; the person reaches, lifts it and walks off with it
  carry_mug    the person walks in holding a mug and sets it down on a table
  push_chair   the person pushes a chair across the floor
  hold_plate   the person holds a plate in both hands and turns around
"""
from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from datagen.humans import humoto
from datagen.humans import skeleton as sk
from datagen.core.rotations import from_matrix, matrix_x, matrix_z, swing

FPS = 30
SCENARIOS = ("lift_box", "carry_mug", "push_chair", "hold_plate")
TABLE_TOP = 0.72





def _smooth(u):
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3 - 2 * u)


def _keys(t: np.ndarray, keys: list[tuple[float, object]]) -> np.ndarray:
    """Piecewise smooth interpolation of values (scalars or vectors) at key frames."""
    frames = [k for k, _ in keys]
    values = [np.asarray(v, float) for _, v in keys]
    out = np.empty((len(t),) + values[0].shape)
    for n, f in enumerate(t):
        i = np.searchsorted(frames, f, side="right") - 1
        if i < 0:
            out[n] = values[0]
        elif i >= len(frames) - 1:
            out[n] = values[-1]
        else:
            u = _smooth((f - frames[i]) / (frames[i + 1] - frames[i]))
            out[n] = values[i] * (1 - u) + values[i + 1] * u
    return out


@dataclass
class Script:
    """What a scenario scripts: the body's path and posture, object poses, hand targets."""
    frames: int
    root_xy: np.ndarray  # (T, 2)
    yaw: np.ndarray  # (T,) radians; 0 faces -Y
    lean: np.ndarray  # (T,) forward bend of the spine, radians
    hands: dict[str, np.ndarray]  # "Left"/"Right" -> (T, 3) world targets, NaN = relaxed
    objects: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # name -> (quat, pos)
    meshes: dict[str, object] = field(default_factory=dict)
    text: str = ""


def body_frame(script: Script, offset) -> np.ndarray:
    """World points (T, 3) at a fixed offset (lateral x, forward -y, up z) from the walking body."""
    off = np.asarray(offset, float)
    rot = matrix_z(script.yaw)
    xy = np.concatenate([script.root_xy, np.zeros((script.frames, 1))], axis=1)
    return xy + np.einsum("tij,j->ti", rot, off)


def _ik(shoulder, target, u1, u2, pole, parent_rot):
    """World rotations (T, 3, 3) of upper and lower arm so the wrist reaches ``target``."""
    l1, l2 = np.linalg.norm(u1), np.linalg.norm(u2)
    d = target - shoulder
    dist = np.clip(np.linalg.norm(d, axis=-1), abs(l1 - l2) + 1e-3, (l1 + l2) * 0.999)
    dn = d / np.linalg.norm(d, axis=-1, keepdims=True)
    cos_a = np.clip((l1 ** 2 + dist ** 2 - l2 ** 2) / (2 * l1 * dist), -1, 1)
    n = pole - np.einsum("ti,ti->t", pole, dn)[:, None] * dn
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    elbow = shoulder + l1 * (cos_a[:, None] * dn + np.sqrt(1 - cos_a ** 2)[:, None] * n)
    wrist = shoulder + dist[:, None] * dn
    upper = swing(np.einsum("tij,j->ti", parent_rot, u1), elbow - shoulder) @ parent_rot
    lower = swing(np.einsum("tij,j->ti", upper, u2), wrist - elbow) @ upper
    return upper, lower


def animate(script: Script) -> tuple[np.ndarray, np.ndarray]:
    """World bone rotations (T, 65, 3, 3), relative to the rest pose, and heads (T, 65, 3) for a script."""
    heads = sk.rest_heads()
    T = script.frames
    I = sk.INDEX
    step = np.linalg.norm(np.diff(script.root_xy, axis=0, prepend=script.root_xy[:1]), axis=-1)
    phase = 2 * np.pi * np.cumsum(step) / 1.3  # one stride cycle per 1.3 m
    speed = np.clip(step * FPS / 0.8, 0, 1)  # swing amplitude grows with walking speed
    local = np.broadcast_to(np.eye(3), (T, len(sk.BONES), 3, 3)).copy()
    local[:, I[sk.P + "Hips"]] = matrix_z(script.yaw)
    for b in ("Spine", "Spine1", "Spine2"):
        local[:, I[sk.P + b]] = matrix_x(script.lean / 3)
    for side, sign in (("Left", 1.0), ("Right", -1.0)):
        swing = sign * np.sin(phase) * speed
        local[:, I[sk.P + side + "UpLeg"]] = matrix_x(-0.45 * swing)
        local[:, I[sk.P + side + "Leg"]] = matrix_x(0.6 * np.clip(np.sin(phase * sign + 1.2), 0, 1) * speed
                                               + 0.25 * script.lean)
    hips_z = heads[0, 2] - 0.02 * speed * (1 - np.cos(2 * phase)) / 2 - 0.08 * np.sin(script.lean)
    root = np.concatenate([script.root_xy + heads[0, :2], hips_z[:, None]], axis=1)
    world, pos = sk.forward_kinematics(root, local, heads)
    for side, sign in (("Left", 1.0), ("Right", -1.0)):
        arm, fore, hand, shoulder_bone = (I[sk.P + side + b] for b in ("Arm", "ForeArm", "Hand", "Shoulder"))
        target = script.hands.get(side, np.full((T, 3), np.nan)).copy()
        relaxed = body_frame(script, (sign * 0.2, 0.0, 0.0)) + np.array([0, 0, 0.85])
        relaxed += np.einsum("tij,j->ti", matrix_z(script.yaw), [0, 1, 0]) * (0.12 * sign * np.sin(phase) * speed)[:, None]
        free = np.isnan(target).any(-1)
        target[free] = relaxed[free]
        pole = np.einsum("tij,j->ti", matrix_z(script.yaw), [sign * 0.4, 0.6, -1.0])
        upper, lower = _ik(pos[:, arm], target, heads[fore] - heads[arm], heads[hand] - heads[fore], pole,
                           world[:, shoulder_bone])
        local[:, arm] = np.swapaxes(world[:, shoulder_bone], 1, 2) @ upper
        local[:, fore] = np.swapaxes(upper, 1, 2) @ lower
    return sk.forward_kinematics(root, local, heads)


# -- scenarios -------------------------------------------------------------------------------------

def _meshes():
    from datagen.assets import shapes
    return {"table": shapes.table(), "chair": shapes.chair(), "mug": shapes.mug(), "plate": shapes.plate(),
            "cardboard_box": shapes.carton()}


def _centre(mesh) -> np.ndarray:
    return (mesh.bounds[0] + mesh.bounds[1]) / 2


def _still(pos, T, yaw=0.0):
    return np.broadcast_to(from_matrix(matrix_z(np.full(T, yaw))), (T, 4)).copy(), np.broadcast_to(np.asarray(pos, float), (T, 3)).copy()


def _clock(frames: int) -> tuple[np.ndarray, float]:
    """Frame numbers and the factor that stretches the 90-frame scripts to ``frames``."""
    return np.arange(frames, dtype=float), frames / 90


def _table(m, frames):
    """The table, still, 0.6 m in front of where the person starts."""
    return _still((0.0, -0.6, _centre(m["table"])[2]), frames)


def lift_box(frames: int = 90) -> Script:
    m, t, f = _meshes(), *_clock(frames)
    root = _keys(t, [(50 * f, (0, 0)), (90 * f, (0, 1.3))])
    yaw = _keys(t, [(45 * f, 0.0), (62 * f, math.pi)])
    lean = _keys(t, [(0, 0.0), (18 * f, 0.45), (30 * f, 0.45), (45 * f, 0.0)])
    s = Script(frames, root, yaw, lean, {})
    box = m["cardboard_box"]
    half = (box.bounds[1] - box.bounds[0]) / 2
    on_table = np.array([0.0, -0.55, TABLE_TOP + half[2]])
    carried = body_frame(s, (0.0, -0.32, 1.05))
    lift = _smooth((t - 22 * f) / (20 * f))[:, None]
    box_pos = on_table * (1 - lift) + carried * lift
    box_pos[t >= 42 * f] = carried[t >= 42 * f]
    box_yaw = np.where(t >= 42 * f, yaw, 0.0)
    grip = _smooth((t - 6 * f) / (14 * f))[:, None]
    for side, sign in (("Left", 1), ("Right", -1)):
        side_pt = box_pos + np.einsum("tij,j->ti", matrix_z(box_yaw), [sign * (half[0] + 0.02), 0, 0])
        hand = np.where(grip > 0, side_pt, np.nan)
        s.hands[side] = hand
    s.objects = {"table": _table(m, frames),
                 "cardboard_box": (from_matrix(matrix_z(box_yaw)), box_pos)}
    s.meshes = {"table": m["table"], "cardboard_box": box}
    s.text = "A person lifts a cardboard box from a table and walks away carrying it."
    return s


def carry_mug(frames: int = 90) -> Script:
    m, t, f = _meshes(), *_clock(frames)
    root = _keys(t, [(0, (0, 1.4)), (45 * f, (0, 0.05))])
    s = Script(frames, root, np.zeros(frames), _keys(t, [(45 * f, 0.0), (58 * f, 0.3), (72 * f, 0.0)]), {})
    mug = m["mug"]
    hz = (mug.bounds[1, 2] - mug.bounds[0, 2]) / 2
    carried = body_frame(s, (-0.22, -0.3, 0.95))
    placed = np.array([-0.2, -0.5, TABLE_TOP + hz])
    put = _smooth((t - 45 * f) / (15 * f))[:, None]
    mug_pos = carried * (1 - put) + placed * put
    mug_pos[t >= 60 * f] = placed
    release = t >= 62 * f
    s.hands["Right"] = np.where(release[:, None], np.nan, mug_pos + [0, 0, 0.0])
    s.objects = {"table": _table(m, frames),
                 "mug": (_still((0, 0, 0), frames)[0], mug_pos)}
    s.meshes = {"table": m["table"], "mug": mug}
    s.text = "A person walks in carrying a mug and sets it down on a table."
    return s


def push_chair(frames: int = 90) -> Script:
    m, t, f = _meshes(), *_clock(frames)
    root = _keys(t, [(15 * f, (0, 0.0)), (85 * f, (0, -1.0))])
    s = Script(frames, root, np.zeros(frames), np.full(frames, 0.25), {})
    chair = m["chair"]
    c = _centre(chair)
    chair_pos = np.concatenate([root + [0, -0.55], np.full((frames, 1), c[2])], axis=1)
    top = chair.bounds[1, 2]
    for side, sign in (("Left", 1), ("Right", -1)):
        grip = chair_pos + [sign * 0.17, 0.16, top - c[2] - 0.02]
        touch = _smooth((t - 2 * f) / (12 * f))[:, None] > 0
        s.hands[side] = np.where(touch, grip, np.nan)
    s.objects = {"chair": (from_matrix(matrix_z(np.full(frames, math.pi))), chair_pos)}
    s.meshes = {"chair": chair}
    s.text = "A person pushes a chair across the room."
    return s


def hold_plate(frames: int = 90) -> Script:
    m, t, f = _meshes(), *_clock(frames)
    yaw = _keys(t, [(10 * f, 0.0), (80 * f, math.pi / 2)])
    s = Script(frames, np.zeros((frames, 2)), yaw, np.zeros(frames), {})
    plate = m["plate"]
    pos = body_frame(s, (0.0, -0.36, 1.0)) + np.stack([np.zeros(frames), np.zeros(frames),
                                                        0.03 * np.sin(t / frames * 4 * math.pi)], 1)
    for side, sign in (("Left", 1), ("Right", -1)):
        s.hands[side] = pos + np.einsum("tij,j->ti", matrix_z(yaw), [sign * 0.13, 0, -0.01])
    s.objects = {"plate": (from_matrix(matrix_z(yaw)), pos)}
    s.meshes = {"plate": plate}
    s.text = "A person stands holding a plate with both hands and turns around."
    return s


SCRIPTS = {"lift_box": lift_box, "carry_mug": carry_mug, "push_chair": push_chair, "hold_plate": hold_plate}


# HUMOTO's up_bone layout: every bone's Y axis (Blender's along-the-bone axis) points up (+Z), X stays X
UP_BONE = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])


def character() -> humoto.Character:
    """Our rest skeleton as a HUMOTO character in the up_bone layout (rest matrices, world, Z up)."""
    rest = {}
    for b, head in zip(sk.BONES, sk.rest_heads()):
        m = np.eye(4)
        m[:3, :3], m[:3, 3] = UP_BONE, head
        rest[b] = m
    return humoto.Character(sk.REST_PATH, rest, dict(sk.PARENT))


def write_fixtures(root: str | Path, scenarios=SCENARIOS, frames: int = 90) -> Path:
    """Write the scenarios as HUMOTO sequences under ``root`` (objects in ``root/objects``, the
    character in ``root/human_model/``)."""
    root = Path(root)
    unknown = set(scenarios) - set(SCRIPTS)
    if unknown:
        raise ValueError(f"unknown fixture scenarios {sorted(unknown)}; choose from {SCENARIOS}")
    rig = character()
    humoto.write_character(root / humoto.CHARACTER_DIR / humoto.CHARACTER_FILES[0], rig.rest, rig.parent)
    for name in scenarios:
        script = SCRIPTS[name](frames)
        rotations, heads = animate(script)
        world = np.broadcast_to(np.eye(4), rotations.shape[:2] + (4, 4)).copy()
        world[..., :3, :3], world[..., :3, 3] = rotations @ UP_BONE, heads
        channels = humoto.pose_channels(world, list(sk.BONES), rig)
        humoto.write_sequence(root, name, channels, script.objects, script.text, script.meshes)
    return root


def default_fixtures() -> Path:
    """The fixtures in the cache, written once (what ``source=humoto`` uses without ``humoto.root``);
    keyed by the code and data that shape them."""
    import hashlib
    import json
    import os
    import shutil

    from datagen.assets import shapes
    from datagen.core.paths import cache_dir

    h = hashlib.sha256()
    for path in (Path(__file__), sk.REST_PATH, Path(sk.__file__), Path(humoto.__file__), Path(shapes.__file__)):
        h.update(path.read_bytes())
    root = cache_dir("humoto_fixtures") / h.hexdigest()[:12]
    if not (root / "complete.json").is_file():
        tmp = root.with_name(f"{root.name}.tmp{os.getpid()}")
        try:
            write_fixtures(tmp)
            (tmp / "complete.json").write_text(json.dumps({"scenarios": list(SCENARIOS)}))
            try:
                tmp.rename(root)
            except OSError:  # another process finished first
                pass
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return root


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", help="folder to write the sequences into")
    p.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=SCENARIOS)
    p.add_argument("--frames", type=int, default=90, help="frames at 30 fps (default 90)")
    a = p.parse_args(argv)
    root = write_fixtures(a.out, a.scenarios, a.frames)
    print(f"wrote {len(a.scenarios)} HUMOTO-format sequences to {root}")


if __name__ == "__main__":
    main()
