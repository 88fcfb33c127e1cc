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


def retarget(source_heads: np.ndarray, rest: RestPose, labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Anny world bone poses (T, 52, 4, 4) and joint heads (T, 52, 3) following a source skeleton's
    world bone heads (T, 65, 3) in ``skeleton.BONES`` order (NaN for bones the source lacks)."""
    T = len(source_heads)
    a_index = {b: k for k, b in enumerate(labels)}
    # anny's rest skeleton over all 65 bones: leaves sit at their parents' tails
    rest65 = np.array([rest.tails[a_index[sk.PARENT[b]]] if b in sk.LEAVES else rest.heads[a_index[b]]
                       for b in sk.BONES])
    scale = leg_length(rest65[None]) / max(leg_length(source_heads), 1e-6)
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
        if len(kids) >= 2:
            rot[b] = kabsch(u, v)
        elif len(kids) == 1:
            rot[b] = swing(np.einsum("tij,j->ti", base, u[0]), v[:, 0]) @ base
        else:
            rot[b] = base.copy()
        if parent is None:
            heads[:, a_index[b]] = source_heads[:, i] * np.array([1.0, 1.0, scale])
        else:
            heads[:, a_index[b]] = heads[:, a_index[parent]] + np.einsum(
                "tij,j->ti", rot[parent], rest65[i] - rest65[sk.INDEX[parent]])
    poses = np.zeros((T, len(labels), 4, 4))
    for b, k in a_index.items():
        poses[:, k, :3, :3] = rot[b] @ rest.bone_poses[k, :3, :3]
        poses[:, k, :3, 3] = heads[:, k]
        poses[:, k, 3, 3] = 1.0
    return poses, heads


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


def vertex_regions(model, sleeves: bool) -> np.ndarray:
    """(V,) index into ``REGIONS`` per vertex: skin, shirt, trousers or shoes."""
    weights = model.vertex_bone_weights.numpy()
    indices = model.vertex_bone_indices.numpy()
    main = indices[np.arange(len(indices)), weights.argmax(1)]
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


def write_rest_skeleton(path: str | Path = sk.REST_PATH) -> Path:
    """Write anny's default rest skeleton (heads of its 52 bones plus the 13 leaf ends) standing
    on z = 0. Run once by a developer; the file is shipped."""
    model = anny_model()
    rest = rest_pose(model, {})
    by_name = dict(zip(model.bone_labels, rest.heads))
    tails = dict(zip(model.bone_labels, rest.tails))
    for leaf in sk.LEAVES:
        by_name[leaf] = tails[sk.PARENT[leaf]]
    lift = -float(rest.vertices[:, 2].min())
    heads = {b: [round(float(v), 5) for v in by_name[b] + np.array([0, 0, lift])] for b in sk.BONES}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"about": "Mixamo-rig rest skeleton (anny default body, A pose, facing -Y, "
                                         "feet on z=0), metres", "heads": heads}, indent=1) + "\n")
    return path
