"""The Mixamo rig HUMOTO records (65 ``mixamorig:*`` bones), its hierarchy, and forward kinematics.

HUMOTO stores, per frame, every bone's Blender pose channels relative to its character's rest pose;
``humoto.load_sequence`` turns them into world poses (rotation (w, x, y, z) and the position of the
bone's head, Z up, in metres). Anny's ``rig="mixamo"`` has the same names minus the 13 leaf bones
(``*_End``, ``*4``); the leaves still matter here because their heads are where the head, finger
and toe bones end.

``assets/humans/mixamo_rest.json`` is the rest skeleton our motion fixtures use: the heads of
anny's default body in its rest (A) pose, standing on the floor (z = 0), facing -Y. It is
written by ``anny_body.write_rest_skeleton`` (needs anny) and shipped, so making fixtures never builds a
body model.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from datagen.core.paths import REPO_ROOT
from datagen.core.rotations import swing

P = "mixamorig:"
_SIDE = ("Left", "Right")
_FINGERS = ("Index", "Middle", "Pinky", "Ring", "Thumb")


def _hierarchy() -> list[tuple[str, str | None]]:
    bones: list[tuple[str, str | None]] = [("Hips", None)]
    for s in _SIDE:
        bones += [(f"{s}UpLeg", "Hips"), (f"{s}Leg", f"{s}UpLeg"), (f"{s}Foot", f"{s}Leg"),
                  (f"{s}ToeBase", f"{s}Foot"), (f"{s}Toe_End", f"{s}ToeBase")]
    bones += [("Spine", "Hips"), ("Spine1", "Spine"), ("Spine2", "Spine1"), ("Neck", "Spine2"),
              ("Head", "Neck"), ("HeadTop_End", "Head")]
    for s in _SIDE:
        bones += [(f"{s}Shoulder", "Spine2"), (f"{s}Arm", f"{s}Shoulder"), (f"{s}ForeArm", f"{s}Arm"),
                  (f"{s}Hand", f"{s}ForeArm")]
        for f in _FINGERS:
            bones += [(f"{s}Hand{f}1", f"{s}Hand")] + [(f"{s}Hand{f}{i}", f"{s}Hand{f}{i - 1}") for i in (2, 3, 4)]
    return [(P + b, None if p is None else P + p) for b, p in bones]


HIERARCHY = _hierarchy()
BONES: tuple[str, ...] = tuple(b for b, _ in HIERARCHY)
PARENT: dict[str, str | None] = dict(HIERARCHY)
INDEX = {b: i for i, b in enumerate(BONES)}
PARENTS = np.array([-1 if p is None else INDEX[p] for _, p in HIERARCHY])
# bones that only mark where their parent ends (anny's mixamo rig has none of them)
LEAVES = tuple(b for b in BONES if b.endswith("_End") or (b[-1] == "4" and "Hand" in b))
# what a sequence must have to drive a body: trunk, limbs and hands
REQUIRED = tuple(P + b for b in ("Hips", "Spine", "Spine1", "Spine2", "Neck", "Head")) + tuple(
    P + f"{s}{b}" for s in _SIDE for b in ("UpLeg", "Leg", "Foot", "ToeBase", "Shoulder", "Arm", "ForeArm", "Hand"))
REST_PATH = REPO_ROOT / "assets" / "humans" / "mixamo_rest.json"

assert len(BONES) == 65 and len(LEAVES) == 13


def children(bone: str) -> list[str]:
    return [b for b in BONES if PARENT[b] == bone]


def rest_heads(path: str | Path = REST_PATH) -> np.ndarray:
    """(65, 3) rest-pose bone heads in world coordinates, in ``BONES`` order."""
    data = json.loads(Path(path).read_text())
    missing = [b for b in BONES if b not in data["heads"]]
    if missing:
        raise ValueError(f"{path}: rest skeleton lacks bones {missing[:3]}")
    return np.array([data["heads"][b] for b in BONES], dtype=np.float64)


def forward_kinematics(root: np.ndarray, local: np.ndarray, heads: np.ndarray | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """World rotations (T, 65, 3, 3) and heads (T, 65, 3) from the root position (T, 3) and local
    rotations (T, 65, 3, 3) relative to the rest pose (whose world rotations are the identity)."""
    heads = rest_heads() if heads is None else heads
    T = len(root)
    world = np.empty_like(local)
    pos = np.empty((T, len(BONES), 3))
    for i, parent in enumerate(PARENTS):  # BONES lists parents before children
        if parent < 0:
            world[:, i] = local[:, i]
            pos[:, i] = root
        else:
            world[:, i] = world[:, parent] @ local[:, i]
            pos[:, i] = pos[:, parent] + world[:, parent] @ (heads[i] - heads[parent])
    return world, pos


def two_bone_ik(root: np.ndarray, target: np.ndarray, u1: np.ndarray, u2: np.ndarray, pole: np.ndarray,
                parent_rot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World rotations (T, 3, 3) of a two-bone limb (rest vectors ``u1``, ``u2``: upper arm and forearm,
    thigh and shin) whose end reaches ``target`` (T, 3) from ``root`` (T, 3), bending towards ``pole``
    (T, 3); ``parent_rot`` (T, 3, 3) is the limb's parent's world rotation. A target out of reach is
    pulled in to 0.999 of the limb's length along the same line."""
    l1, l2 = np.linalg.norm(u1), np.linalg.norm(u2)
    d = target - root
    dist = np.clip(np.linalg.norm(d, axis=-1), abs(l1 - l2) + 1e-3, (l1 + l2) * 0.999)
    dn = d / np.linalg.norm(d, axis=-1, keepdims=True)
    cos_a = np.clip((l1 ** 2 + dist ** 2 - l2 ** 2) / (2 * l1 * dist), -1, 1)
    n = pole - np.einsum("ti,ti->t", pole, dn)[:, None] * dn
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    middle = root + l1 * (cos_a[:, None] * dn + np.sqrt(1 - cos_a ** 2)[:, None] * n)
    end = root + dist[:, None] * dn
    upper = swing(np.einsum("tij,j->ti", parent_rot, u1), middle - root) @ parent_rot
    lower = swing(np.einsum("tij,j->ti", upper, u2), end - middle) @ upper
    return upper, lower


def running_max_mean(x: np.ndarray, radius: int) -> np.ndarray:
    """The mean over +-``radius`` frames of the max over +-``radius`` frames: smooth, and never below ``x``
    (a hip height that must come down at least ``x`` comes down smoothly)."""
    pad = np.pad(x, radius, mode="edge")
    peak = np.array([pad[i:i + 2 * radius + 1].max() for i in range(len(x))])
    pad = np.pad(peak, radius, mode="edge")
    return np.array([pad[i:i + 2 * radius + 1].mean() for i in range(len(x))])
