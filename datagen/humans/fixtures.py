"""Small HUMOTO-format sequences made procedurally, for tests, the demo and users without HUMOTO.

    python -m datagen.humans.fixtures DIR          # writes DIR/<sequence>/... and DIR/objects/

Each scenario is a person (the Mixamo rest skeleton of ``assets/humans/mixamo_rest.json``, facing
-Y) handling real meshes from our asset library: object trajectories are scripted first and the
hands follow them by two-bone IK; the feet step where the body goes (``plan_steps``) and the legs reach
them by IK, so a planted foot stays put. The motion is simple,
but the files are HUMOTO's format exactly, so the same loader, retarget and renders run on them:
Blender pose channels per bone relative to a character written beside them in HUMOTO's JSON layout
(``DIR/human_model/human_model_up_bone_zup.json``: our skeleton in HUMOTO's recommended ``up_bone``
layout, every bone's axes pointing up), world poses per object, the text as ``short_script``.

  lift_box     a carton rests on a table; the person reaches, lifts it and walks off with it
  carry_mug    the person walks in holding a mug and sets it down on a table
  push_chair   the person pushes a chair across the floor
  hold_plate   the person holds a plate in both hands and turns around
and, without objects to hand (``MOTIONS``; Vera's people): walk, turn (on the spot), wave, sit (on a
chair made for the body). ``script(name, frames, heads)`` builds any of them for a body's own skeleton.
"""
from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from datagen.humans import humoto
from datagen.humans import skeleton as sk
from datagen.core.rotations import from_matrix, matrix_x, matrix_z, rotate

FPS = 30
SCENARIOS = ("lift_box", "carry_mug", "push_chair", "hold_plate")  # a person handling objects (VOID's removal)
MOTIONS = SCENARIOS + ("walk", "turn", "wave", "sit")  # and a person on their own (Vera's subjects)
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
    sitting: np.ndarray | None = None  # (T,) 0 standing .. 1 seated: the hips go down to ``seat_hips``
    seat_hips: float = 0.0  # m, the hips' height when seated (whatever the body's leg length)
    seat: str | None = None  # the object sat on (``seat_depth``)
    seat_top: float = 0.0  # m, the height of its top
    seated: np.ndarray | None = None  # (T,) bool: the feet stay where they are whatever the root does


def body_frame(script: Script, offset) -> np.ndarray:
    """World points (T, 3) at a fixed offset (lateral x, forward -y, up z) from the walking body."""
    off = np.asarray(offset, float)
    rot = matrix_z(script.yaw)
    xy = np.concatenate([script.root_xy, np.zeros((script.frames, 1))], axis=1)
    return xy + np.einsum("tij,j->ti", rot, off)


# -- gait: footsteps planned from the body's path, legs reaching them by IK --------------------------

STEP_SECONDS = 0.4  # one foot's swing
STEP_TRIGGER = 0.16  # m a foot may lag its place under the walking body before it steps
SETTLE = 0.04  # m off its place under a standing body that still makes a foot step
TURN_RADIUS = 0.15  # m of lag per radian of turning (feet step around when the body turns in place)
FOOT_SPREAD = 0.1  # m from the body's centre line to each ankle
FOOT_LIFT = 0.08  # m a swinging foot rises
LIFT_OFF = 0.12  # share of a swing at each end that only lifts or lowers the foot (it leaves the floor before moving)
REACH = 0.985  # of thigh + shin: how straight a leg may get (the hips lower so that planted feet stay put)
SIDES = (("Left", 1.0), ("Right", -1.0))  # the rest skeleton's left side is +X (it faces -Y)


@dataclass
class Footsteps:
    """Where each foot is (ankle targets) and whether it is planted, per frame."""
    ankles: dict[str, np.ndarray]  # side -> (T, 3) world position of the Foot bone's head
    yaw: dict[str, np.ndarray]  # side -> (T,) heading of the foot
    planted: dict[str, np.ndarray]  # side -> (T,) bool, on the floor and still


def _smoother(u):
    u = np.clip(u, 0.0, 1.0)
    return u * u * u * (u * (6 * u - 15) + 10)


def _angle(a: float, b: float) -> float:
    return abs((a - b + math.pi) % (2 * math.pi) - math.pi)


def plan_steps(script: Script, ankle_z: float) -> Footsteps:
    """Footsteps for a script's body path: one foot swings at a time, when it lags its place under the
    body (as the body will be when it lands) by ``STEP_TRIGGER`` (``SETTLE`` once the body stands still),
    landing half a swing ahead of the body; a planted foot does not move. No steps while
    ``script.seated``."""
    T = script.frames
    swing_frames = max(2, round(STEP_SECONDS * FPS * T / 90))
    seated = np.zeros(T, bool) if script.seated is None else script.seated

    def under(t: int, sign: float) -> np.ndarray:
        t = min(max(t, 0), T - 1)
        c, s_ = math.cos(script.yaw[t]), math.sin(script.yaw[t])
        return np.array([script.root_xy[t, 0] + c * sign * FOOT_SPREAD, script.root_xy[t, 1] + s_ * sign * FOOT_SPREAD])

    place = {side: (under(0, sign), float(script.yaw[0])) for side, sign in SIDES}
    ankles = {side: np.zeros((T, 3)) for side, _ in SIDES}
    yaw = {side: np.zeros(T) for side, _ in SIDES}
    planted = {side: np.ones(T, bool) for side, _ in SIDES}
    step = None  # (side, start, end, from (xy, yaw), to (xy, yaw))
    for t in range(T):
        if step is None and not seated[t]:
            look = min(t + swing_frames, T - 1)
            moving = bool(np.abs(script.root_xy[look] - script.root_xy[t]).max() > 1e-4
                          or abs(script.yaw[look] - script.yaw[t]) > 1e-4)
            lag = {side: float(np.linalg.norm(place[side][0] - under(look, sign)))
                   + TURN_RADIUS * _angle(place[side][1], script.yaw[look]) for side, sign in SIDES}
            side = max(lag, key=lag.get)
            if lag[side] > (STEP_TRIGGER if moving else SETTLE):
                land = min(t + swing_frames + swing_frames // 2, T - 1)
                sign = dict(SIDES)[side]
                step = (side, t, t + swing_frames, place[side], (under(land, sign), float(script.yaw[land])))
        for side, _ in SIDES:
            xy, heading, z = place[side][0], place[side][1], ankle_z
            if step is not None and step[0] == side and t > step[1]:
                u = (t - step[1]) / (step[2] - step[1])
                (a, ya), (b, yb) = step[3], step[4]
                k = _smoother((u - LIFT_OFF) / (1 - 2 * LIFT_OFF))  # rises and sets down in place
                xy = a * (1 - k) + b * k
                heading = ya + k * ((yb - ya + math.pi) % (2 * math.pi) - math.pi)
                z = ankle_z + FOOT_LIFT * math.sin(math.pi * min(u, 1.0))
                planted[side][t] = u >= 1.0
            ankles[side][t] = (xy[0], xy[1], z)
            yaw[side][t] = heading
        if step is not None and t >= step[2]:
            place[step[0]] = step[4]
            step = None
    return Footsteps(ankles, yaw, planted)


def animate(script: Script, heads: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """World bone rotations (T, 65, 3, 3), relative to the rest pose, and heads (T, 65, 3) for a script,
    on the rest skeleton ``heads`` (65, 3) standing on z = 0 (default: ``skeleton.rest_heads()``): a
    body's own skeleton gets the motion made for its proportions (feet, seat and hand targets exact)."""
    heads = sk.rest_heads() if heads is None else heads
    T = script.frames
    I = sk.INDEX
    local = np.broadcast_to(np.eye(3), (T, len(sk.BONES), 3, 3)).copy()
    local[:, I[sk.P + "Hips"]] = hips = matrix_z(script.yaw)
    for b in ("Spine", "Spine1", "Spine2"):
        local[:, I[sk.P + b]] = matrix_x(script.lean / 3)
    steps = plan_steps(script, heads[I[sk.P + "LeftFoot"], 2])
    # the hips come down as far as the feet need to stay where they are planted (legs never overstretch)
    sitting = np.zeros(T) if script.sitting is None else np.asarray(script.sitting, float)
    drop = sitting * max(heads[0, 2] - script.seat_hips, 0.0)
    root_xy = script.root_xy + heads[0, :2]
    for side, _ in SIDES:
        up, knee, foot = (I[sk.P + side + b] for b in ("UpLeg", "Leg", "Foot"))
        reach = REACH * (np.linalg.norm(heads[knee] - heads[up]) + np.linalg.norm(heads[foot] - heads[knee]))
        hip = root_xy + np.einsum("tij,j->ti", hips, heads[up] - heads[0])[:, :2]
        flat = np.linalg.norm(steps.ankles[side][:, :2] - hip, axis=-1)
        highest = steps.ankles[side][:, 2] + np.sqrt(np.maximum(reach ** 2 - flat ** 2, 0.0)) - (heads[up, 2] - heads[0, 2])
        drop = np.maximum(drop, heads[0, 2] - highest)
    drop = sk.running_max_mean(np.maximum(drop, 0.0), max(1, round(0.1 * FPS * T / 90)))
    hips_z = heads[0, 2] - drop - 0.08 * np.sin(script.lean)
    root = np.concatenate([root_xy, hips_z[:, None]], axis=1)
    world, pos = sk.forward_kinematics(root, local, heads)
    forward = np.einsum("tij,j->ti", hips, [0.0, -1.0, 0.0])
    for side, _ in SIDES:
        up, knee, foot = (I[sk.P + side + b] for b in ("UpLeg", "Leg", "Foot"))
        thigh, shin = sk.two_bone_ik(pos[:, up], steps.ankles[side], heads[knee] - heads[up],
                                     heads[foot] - heads[knee], forward + [0, 0, 0.1], world[:, 0])
        local[:, up] = np.swapaxes(world[:, 0], 1, 2) @ thigh
        local[:, knee] = np.swapaxes(thigh, 1, 2) @ shin
        local[:, foot] = np.swapaxes(shin, 1, 2) @ matrix_z(steps.yaw[side])
    world, pos = sk.forward_kinematics(root, local, heads)
    # relaxed arms swing against the legs: a hand goes back as its own side's foot goes forward
    stride = np.clip(np.einsum("ti,ti->t", forward[:, :2], steps.ankles["Left"][:, :2] - steps.ankles["Right"][:, :2]) / 0.5, -1, 1)
    for side, sign in SIDES:
        arm, fore, hand, shoulder_bone = (I[sk.P + side + b] for b in ("Arm", "ForeArm", "Hand", "Shoulder"))
        target = script.hands.get(side, np.full((T, 3), np.nan)).copy()
        # hanging beside the hips, or resting on the thighs when seated
        relaxed = body_frame(script, (sign * 0.2, 0.0, 0.0)) * (1 - sitting[:, None]) + \
            body_frame(script, (sign * 0.13, -0.2, 0.0)) * sitting[:, None]
        relaxed[:, 2] = hips_z - 0.04 + 0.16 * sitting
        relaxed -= forward * (0.12 * sign * stride)[:, None]
        free = np.isnan(target).any(-1)
        target[free] = relaxed[free]
        pole = np.einsum("tij,j->ti", hips, [sign * 0.4, 0.6, -1.0])
        upper, lower = sk.two_bone_ik(pos[:, arm], target, heads[fore] - heads[arm], heads[hand] - heads[fore], pole,
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


def walk(frames: int = 90) -> Script:
    m, t, f = _meshes(), *_clock(frames)
    u = _smooth((t - 4 * f) / (82 * f))  # starts and stops smoothly
    y = 1.2 - 2.4 * u
    x = 0.25 * np.sin(math.pi * u)  # a gentle curve
    root = np.stack([x, y], 1)
    heading = np.arctan2(np.gradient(x), -np.gradient(y))  # yaw 0 faces -Y
    yaw = np.where(np.gradient(u) > 1e-6, heading, heading[np.argmax(np.gradient(u))])
    s = Script(frames, root, np.unwrap(yaw), np.zeros(frames), {})
    s.text = "A person walks across the room."
    return s


def turn(frames: int = 90) -> Script:
    t, f = _clock(frames)[0], frames / 90
    s = Script(frames, np.zeros((frames, 2)), _keys(t, [(15 * f, 0.0), (70 * f, math.pi)]), np.zeros(frames), {})
    s.text = "A person turns around on the spot."
    return s


def wave(frames: int = 90) -> Script:
    t, f = _clock(frames)[0], frames / 90
    s = Script(frames, np.zeros((frames, 2)), np.zeros(frames), np.zeros(frames), {})
    raised = _smooth((t - 12 * f) / (14 * f)) * (1 - _smooth((t - 70 * f) / (14 * f)))
    hand = body_frame(s, (-0.45, -0.1, 1.55)) + np.stack(
        [0.12 * np.sin(2 * math.pi * 2.0 * t / (30 * f)), np.zeros(frames), np.zeros(frames)], 1)
    rest = body_frame(s, (-0.2, 0.0, 0.85))
    s.hands["Right"] = np.where(raised[:, None] > 1e-3, rest * (1 - raised[:, None]) + hand * raised[:, None], np.nan)
    s.text = "A person raises a hand and waves."
    return s


SEAT_HEIGHT = 0.465  # the chair's seat top (``shapes.chair``)
SEAT_BELOW_KNEES = 0.03  # m a seat must be below a body's knees so its thighs rest on it, feet on the floor


def sit(frames: int = 90, heads: np.ndarray | None = None) -> Script:
    """Sitting down on a chair scaled to the body (rest skeleton ``heads``): its seat a little below the
    knees, as a person picks a chair, so the thighs rest on it and the feet stay on the floor."""
    m, t, f = _meshes(), *_clock(frames)
    heads = sk.rest_heads() if heads is None else heads
    knees = float(heads[[sk.INDEX[sk.P + "LeftLeg"], sk.INDEX[sk.P + "RightLeg"]], 2].min())
    scale = min(1.0, (knees - SEAT_BELOW_KNEES) / SEAT_HEIGHT)
    back = 0.26 * scale  # the seat's centre behind where the person stands
    root = np.stack([np.zeros(frames), _keys(t, [(25 * f, 0.0), (60 * f, back - 0.04)])], 1)
    sitting = _keys(t, [(25 * f, 0.0), (60 * f, 1.0)])
    lean = _keys(t, [(20 * f, 0.0), (42 * f, 0.55), (66 * f, 0.08)])
    s = Script(frames, root, np.zeros(frames), lean, {}, sitting=sitting, seat_hips=SEAT_HEIGHT * scale + 0.11,
               seat="chair", seat_top=SEAT_HEIGHT * scale, seated=t >= 20 * f)
    chair = m["chair"].copy()
    chair.apply_scale(scale)
    s.objects = {"chair": (from_matrix(matrix_z(np.full(frames, math.pi))),
                           np.broadcast_to([0.0, back, _centre(chair)[2]], (frames, 3)).copy())}
    s.meshes = {"chair": chair}
    s.text = "A person sits down on a chair."
    return s


SCRIPTS = {"lift_box": lift_box, "carry_mug": carry_mug, "push_chair": push_chair, "hold_plate": hold_plate,
           "walk": walk, "turn": turn, "wave": wave, "sit": sit}
FITTED = ("sit",)  # scripts whose props are made to fit the body


def seat_depth(script: Script, vertices: np.ndarray) -> float:
    """How far a seated body's skinned ``vertices`` (V, 3), posed at the script's last frame, go below the
    top of the seat it sits on (0 when it rests on or above it)."""
    if script.seat is None:
        return 0.0
    q, pos = script.objects[script.seat]
    mesh = script.meshes[script.seat]
    half = (mesh.bounds[1] - mesh.bounds[0]) / 2
    inverse = np.broadcast_to(q[-1] * [1.0, -1.0, -1.0, -1.0], (len(vertices), 4))
    local = rotate(inverse, vertices - pos[-1])  # in the seat's frame (its bounding-box centre)
    over = (np.abs(local[:, :2]) < half[:2]).all(axis=1) & (vertices[:, 2] > script.seat_top - 0.15)
    return float(max(script.seat_top - vertices[over, 2].min(), 0.0)) if over.any() else 0.0


def real_time(frames: int, fps: float) -> tuple[int, np.ndarray]:
    """(script frames, source frame of each clip frame) to play a named motion in real time at ``fps``: the
    scripts are designed as 3 s at ``FPS`` (90 frames); a longer clip stretches them to its length, a
    shorter one shows their first seconds."""
    length = max(90, int(math.ceil((frames - 1) / fps * FPS)) + 1)
    return length, np.minimum(np.arange(frames) / fps * FPS, length - 1)


def script(name: str, frames: int, heads: np.ndarray | None = None) -> Script:
    """A named motion's script over ``frames`` frames for a body with rest skeleton ``heads`` (props that
    must fit the body, the chair one sits on, are made to); a one-line error for unknown names."""
    if name not in SCRIPTS:
        raise ValueError(f"unknown motion {name!r}; choose from {MOTIONS}")
    return SCRIPTS[name](frames, heads) if name in FITTED else SCRIPTS[name](frames)


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
        raise ValueError(f"unknown fixture scenarios {sorted(unknown)}; choose from {MOTIONS}")
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
    p.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=MOTIONS)
    p.add_argument("--frames", type=int, default=90, help="frames at 30 fps (default 90)")
    a = p.parse_args(argv)
    root = write_fixtures(a.out, a.scenarios, a.frames)
    print(f"wrote {len(a.scenarios)} HUMOTO-format sequences to {root}")


if __name__ == "__main__":
    main()
