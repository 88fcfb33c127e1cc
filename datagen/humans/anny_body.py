"""Anny (open, CC0 MakeHuman assets) as the default body: retargeted from HUMOTO's Mixamo skeleton and
skinned per frame.

The retarget is positional: HUMOTO's per-bone world *positions* are unambiguous, while its bone
rotations carry the source character's own rest orientations, which we do not have. For every
anny bone, the rotation that best maps its rest offsets to its children (and leaf ends) onto the
source's current offsets (Kabsch) is its world rotation; bones with one child take the smallest
swing from their parent's rotation (twist about a limb is inherited). Anny's own bone lengths
then place the joints, so hands and feet land where the source's are up to the difference in
proportions; the root height is scaled by the ratio of leg lengths to keep feet on the floor.

Building anny's model takes ~40-100 s the first time (anny caches it on disk, later builds take
0.4 s); ``anny_model`` keeps one per process.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datagen.core.rotations import kabsch, swing
from datagen.humans import skeleton as sk

PHENOTYPES = ("gender", "age", "muscle", "weight", "height", "proportions")


@functools.lru_cache(maxsize=1)
def anny_model():
    import warnings

    import anny

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # plain torch linear blend skinning: the same numbers on every machine, no Warp kernels
        return anny.Anny(rig="mixamo", skinning_method="lbs")


@dataclass
class RestPose:
    heads: np.ndarray  # (52, 3)
    tails: np.ndarray  # (52, 3)
    bone_poses: np.ndarray  # (52, 4, 4) world
    vertices: np.ndarray  # (V, 3)


def _phenotype(phenotype: dict) -> dict:
    import torch
    bad = set(phenotype) - set(PHENOTYPES)
    if bad:
        raise ValueError(f"unknown anny phenotype keys {sorted(bad)}; choose from {PHENOTYPES}")
    return {k: torch.tensor([float(v)], dtype=torch.float64) for k, v in phenotype.items()}


def rest_pose(model, phenotype: dict) -> RestPose:
    import torch
    with torch.no_grad():
        out = model(pose_parameters=None, phenotype_kwargs=_phenotype(phenotype), return_bone_ends=True)
    return RestPose(heads=out["bone_heads"][0].numpy(), tails=out["bone_tails"][0].numpy(),
                    bone_poses=out["bone_poses"][0].numpy(), vertices=out["vertices"][0].numpy())




def leg_length(heads: np.ndarray) -> float:
    """Mean thigh + shin length of a (..., 65, 3) skeleton."""
    i = sk.INDEX
    total = 0.0
    for s in ("Left", "Right"):
        up, knee, foot = (heads[..., i[sk.P + s + b], :] for b in ("UpLeg", "Leg", "Foot"))
        total += np.linalg.norm(knee - up, axis=-1).mean() + np.linalg.norm(foot - knee, axis=-1).mean()
    return float(total / 2)


LEG_REACH = 0.995  # of thigh + shin: how straight a retargeted leg may get before the hips come down


def retarget(source_heads: np.ndarray, rest: RestPose, labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Anny world bone poses (T, 52, 4, 4) and joint heads (T, 52, 3) following a source skeleton's
    world bone heads (T, 65, 3) in ``skeleton.BONES`` order (NaN for bones the source lacks).

    The legs reach the source's ankles by two-bone IK (bending where the source's knees point), at
    anny's own ankle height above the floor, so a planted source foot stays planted on any body; where
    a shorter leg cannot reach, the hips come down (smoothly) instead of the feet sliding."""
    T = len(source_heads)
    a_index = {b: k for k, b in enumerate(labels)}
    # anny's rest skeleton over all 65 bones: leaves sit at their parents' tails
    rest65 = np.array([rest.tails[a_index[sk.PARENT[b]]] if b in sk.LEAVES else rest.heads[a_index[b]]
                       for b in sk.BONES])
    scale = leg_length(rest65[None]) / max(leg_length(source_heads), 1e-6)
    sides = ("Left", "Right")
    leg = {s: [sk.INDEX[sk.P + s + b] for b in ("UpLeg", "Leg", "Foot")] for s in sides}
    # the source's planted ankles are at its lowest ankle height; anny's sit its own above the floor
    source_floor = min(float(source_heads[:, leg[s][2], 2].min()) for s in sides)
    ankle_height = float(rest65[leg["Left"][2], 2] - rest.vertices[:, 2].min())
    ankles = {s: source_heads[:, leg[s][2]] - np.array([0.0, 0.0, source_floor - ankle_height]) for s in sides}
    feet = {sk.P + s + "Foot" for s in sides}
    rot = {}
    heads = np.zeros((T, len(labels), 3))
    for b in labels:  # anny lists parents before children
        i = sk.INDEX[b]
        # children the source has (Mixamo exports often drop the leaf and finger bones): a bone
        # with none left keeps its parent's rotation
        kids = [sk.INDEX[c] for c in sk.children(b) if np.isfinite(source_heads[:, sk.INDEX[c]]).all()]
        u = rest65[kids] - rest65[i]
        v = source_heads[:, kids] - source_heads[:, i:i + 1]
        parent = sk.PARENT[b]
        base = rot[parent] if parent is not None else np.broadcast_to(np.eye(3), (T, 3, 3))
        if b in rot:  # a shin, set with its thigh
            pass
        elif len(kids) >= 2:
            rot[b] = kabsch(u, v)
        elif len(kids) == 1:
            rot[b] = swing(np.einsum("tij,j->ti", base, u[0]), v[:, 0]) @ base
            if b in feet:  # a foot's twist would follow the shin's: keep its sole level across instead
                rot[b] = _level(rot[b], v[:, 0]) @ rot[b]
        else:
            rot[b] = base.copy()
        if parent is None:
            heads[:, a_index[b]] = source_heads[:, i] * np.array([1.0, 1.0, scale])
            heads[:, a_index[b], 2] -= _hips_drop(heads[:, a_index[b]], rot[b], rest65, leg, ankles)
        else:
            heads[:, a_index[b]] = heads[:, a_index[parent]] + np.einsum(
                "tij,j->ti", rot[parent], rest65[i] - rest65[sk.INDEX[parent]])
        side = next((s for s in sides if leg[s][0] == i), None)
        if side is not None:  # a thigh: thigh and shin by IK to the ankle
            up, knee, foot = leg[side]
            pole = source_heads[:, knee] - (source_heads[:, up] + source_heads[:, foot]) / 2
            pole += 1e-3 * np.einsum("tij,j->ti", rot[parent], [0.0, -1.0, 0.0])  # straight legs: knees forward
            rot[b], rot[sk.BONES[knee]] = sk.two_bone_ik(heads[:, a_index[b]], ankles[side], rest65[knee] - rest65[up],
                                                         rest65[foot] - rest65[knee], pole, rot[parent])
    poses = np.zeros((T, len(labels), 4, 4))
    for b, k in a_index.items():
        poses[:, k, :3, :3] = rot[b] @ rest.bone_poses[k, :3, :3]
        poses[:, k, :3, 3] = heads[:, k]
        poses[:, k, 3, 3] = 1.0
    return poses, heads


def _level(rot: np.ndarray, along: np.ndarray) -> np.ndarray:
    """Rotations (T, 3, 3) about ``along`` (T, 3), a foot's heel-to-toe direction, that turn the foot's
    rest lateral axis (+X) level with the floor."""
    d = along / np.linalg.norm(along, axis=-1, keepdims=True)
    lateral = rot[:, :, 0]
    lateral = lateral - np.einsum("ti,ti->t", lateral, d)[:, None] * d
    level = np.cross(d, [0.0, 0.0, 1.0])
    upright = np.linalg.norm(level, axis=-1) < 1e-6  # a foot pointing straight down: no level to keep
    level[upright] = lateral[upright]
    level *= np.where(np.einsum("ti,ti->t", level, lateral) < 0, -1.0, 1.0)[:, None]
    return swing(lateral, level)


def _hips_drop(hips: np.ndarray, hips_rot: np.ndarray, rest65: np.ndarray, leg: dict, ankles: dict) -> np.ndarray:
    """(T,) how far the hips must come down for both legs to reach their ankles, smoothed."""
    drop = np.zeros(len(hips))
    for side, (up, knee, foot) in leg.items():
        reach = LEG_REACH * (np.linalg.norm(rest65[knee] - rest65[up]) + np.linalg.norm(rest65[foot] - rest65[knee]))
        hip = hips + np.einsum("tij,j->ti", hips_rot, rest65[up] - rest65[sk.INDEX[sk.P + "Hips"]])
        flat = np.linalg.norm(ankles[side][:, :2] - hip[:, :2], axis=-1)
        highest = ankles[side][:, 2] + np.sqrt(np.maximum(reach ** 2 - flat ** 2, 0.0))
        drop = np.maximum(drop, hip[:, 2] - highest)
    return sk.running_max_mean(drop, 1)


def skin(model, phenotype: dict, bone_poses: np.ndarray, batch: int = 64) -> np.ndarray:
    """Skinned vertices (T, V, 3) float32 for world bone poses (T, 52, 4, 4)."""
    import torch
    out = []
    with torch.no_grad():
        for s in range(0, len(bone_poses), batch):
            chunk = torch.as_tensor(bone_poses[s:s + batch], dtype=torch.float64)
            ph = {k: v.expand(len(chunk)) for k, v in _phenotype(phenotype).items()}
            res = model(pose_parameters=chunk, phenotype_kwargs=ph, pose_parameterization="world")
            out.append(res["vertices"].numpy().astype(np.float32))
    return np.concatenate(out)


# clothing regions by the bone that moves a vertex most
REGION_BONES = {
    "shoes": ("Foot", "ToeBase"),
    "trousers": ("Hips", "UpLeg", "Leg"),
    "shirt": ("Spine", "Spine1", "Spine2", "Shoulder", "Arm"),
    "sleeves": ("ForeArm",),
}
REGIONS = ("skin", "shirt", "trousers", "shoes")


def _main_bones(model) -> np.ndarray:
    """(V,) index of the bone that moves each vertex most."""
    weights = model.vertex_bone_weights.numpy()
    indices = model.vertex_bone_indices.numpy()
    return indices[np.arange(len(indices)), weights.argmax(1)]


def foot_vertices(model) -> dict[str, np.ndarray]:
    """Vertex indices of each foot (moved most by its Foot or ToeBase bone): what stands on the floor."""
    main = _main_bones(model)
    return {side: np.flatnonzero(np.isin(main, [model.bone_labels.index(sk.P + side + b) for b in ("Foot", "ToeBase")]))
            for side in ("Left", "Right")}


def vertex_regions(model, sleeves: bool) -> np.ndarray:
    """(V,) index into ``REGIONS`` per vertex: skin, shirt, trousers or shoes."""
    main = _main_bones(model)
    names = [b[len(sk.P):].removeprefix("Left").removeprefix("Right") for b in model.bone_labels]
    out = np.zeros(len(main), dtype=np.int64)
    for region, bones in REGION_BONES.items():
        if region == "sleeves":
            if not sleeves:
                continue
            region = "shirt"
        ids = [k for k, n in enumerate(names) if n in bones]
        out[np.isin(main, ids)] = REGIONS.index(region)
    return out


def rest_skeleton(model, phenotype: dict) -> np.ndarray:
    """(65, 3) a body's rest skeleton in ``skeleton.BONES`` order (its 52 bone heads plus the 13 leaf
    ends at their parents' tails), standing on z = 0: what a procedural motion is made on."""
    rest = rest_pose(model, phenotype)
    by_name = dict(zip(model.bone_labels, rest.heads))
    tails = dict(zip(model.bone_labels, rest.tails))
    heads = np.array([tails[sk.PARENT[b]] if b in sk.LEAVES else by_name[b] for b in sk.BONES])
    heads[:, 2] -= rest.vertices[:, 2].min()
    return heads


def write_rest_skeleton(path: str | Path = sk.REST_PATH) -> Path:
    """Write anny's default rest skeleton (heads of its 52 bones plus the 13 leaf ends) standing
    on z = 0. Run once by a developer; the file is shipped."""
    skeleton = rest_skeleton(anny_model(), {})
    heads = {b: [round(float(v), 5) for v in head] for b, head in zip(sk.BONES, skeleton)}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"about": "Mixamo-rig rest skeleton (anny default body, A pose, facing -Y, "
                                         "feet on z=0), metres", "heads": heads}, indent=1) + "\n")
    return path
