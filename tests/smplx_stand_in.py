"""A random SMPL-X model file for the tests: the real release's keys, shapes, dtypes and joint tree, a
body-shaped template and skinning, so ``datagen.humans.smplx_body`` (the loader, ``safe_model_npz``, posing)
and everything downstream is tested on the real format without the licence-restricted file."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from datagen.humans.smplx_body import (AMASS_BETAS, DYNAMIC_LANDMARKS, GENDERS, MODEL_KEYS, NUM_EXPRESSION,
                                       NUM_FACES, NUM_HAND_JOINTS, NUM_JOINTS, NUM_LANDMARKS, NUM_POSE_BASIS,
                                       NUM_SHAPE, NUM_VERTICES, PARENTS, SHAPE_SPACE, _atomic_npz)


def _rest_joints() -> np.ndarray:
    """(55, 3) rest T-pose joints, model coordinates (Y up, Z forward, X to the body's left)."""
    left = {  # left side and centre; the right side mirrors x
        0: (0.0, -0.30, 0.02), 1: (0.06, -0.39, 0.0), 3: (0.0, -0.19, -0.01), 4: (0.10, -0.77, 0.0),
        6: (0.0, -0.05, 0.0), 7: (0.09, -1.17, -0.04), 9: (0.0, 0.0, 0.02), 10: (0.11, -1.23, 0.08),
        12: (0.0, 0.21, -0.02), 13: (0.07, 0.12, -0.01), 15: (0.0, 0.29, 0.03), 16: (0.17, 0.15, -0.02),
        18: (0.43, 0.13, -0.04), 20: (0.69, 0.13, -0.03), 22: (0.0, 0.26, 0.06), 23: (0.03, 0.36, 0.09),
    }
    fingers = {25: 0.025, 28: 0.005, 31: -0.035, 34: -0.015}  # index, middle, pinky, ring (z)
    for j, z in fingers.items():
        for k, x in enumerate((0.79, 0.825, 0.85)):
            left[j + k] = (x, 0.12, z)
    for k, p in enumerate(((0.72, 0.11, 0.03), (0.745, 0.11, 0.05), (0.77, 0.11, 0.065))):
        left[37 + k] = p
    mirror = {2: 1, 5: 4, 8: 7, 11: 10, 14: 13, 17: 16, 19: 18, 21: 20, 24: 23}
    mirror.update({40 + k: 25 + k for k in range(15)})
    joints = np.zeros((NUM_JOINTS, 3))
    for j, p in left.items():
        joints[j] = p
    for j, src in mirror.items():
        joints[j] = joints[src] * (-1, 1, 1)
    return joints


def _tubes() -> list[tuple[np.ndarray, np.ndarray, np.ndarray, int]]:
    """Body parts as closed tubes swept along polylines: (points (K, 3), radii (K, 2) along the
    hint direction and across, hint (3,), segments around)."""
    x, z = np.array([1.0, 0, 0]), np.array([0, 0, 1.0])
    torso = np.array([  # crotch to the top of the head
        (0, -0.46, 0.0, 0.04, 0.03), (0, -0.42, 0.0, 0.14, 0.09), (0, -0.30, 0.01, 0.17, 0.11),
        (0, -0.10, 0.02, 0.15, 0.10), (0, 0.08, 0.01, 0.18, 0.11), (0, 0.16, -0.01, 0.19, 0.09),
        (0, 0.21, -0.01, 0.065, 0.06), (0, 0.26, 0.01, 0.065, 0.06), (0, 0.30, 0.03, 0.085, 0.10),
        (0, 0.37, 0.03, 0.09, 0.105), (0, 0.43, 0.02, 0.065, 0.075), (0, 0.46, 0.02, 0.015, 0.015)])
    leg = np.array([  # starts inside the torso, ends at the toes
        (0.08, -0.30, 0.0, 0.05, 0.05), (0.075, -0.40, 0.0, 0.085, 0.085), (0.09, -0.58, 0.0, 0.075, 0.075),
        (0.10, -0.77, 0.0, 0.055, 0.055), (0.10, -0.92, -0.01, 0.058, 0.058), (0.09, -1.15, -0.04, 0.04, 0.04),
        (0.095, -1.24, 0.0, 0.045, 0.035), (0.105, -1.25, 0.08, 0.045, 0.03), (0.11, -1.255, 0.16, 0.04, 0.02),
        (0.11, -1.255, 0.19, 0.01, 0.01)])
    arm = np.array([  # starts inside the torso, ends at the finger tips
        (0.10, 0.15, -0.02, 0.04, 0.04), (0.17, 0.15, -0.02, 0.055, 0.055), (0.30, 0.14, -0.03, 0.05, 0.05),
        (0.43, 0.13, -0.04, 0.042, 0.042), (0.56, 0.13, -0.035, 0.038, 0.035), (0.69, 0.13, -0.03, 0.03, 0.022),
        (0.75, 0.125, -0.01, 0.045, 0.02), (0.79, 0.12, -0.01, 0.047, 0.017), (0.86, 0.12, -0.01, 0.04, 0.011),
        (0.90, 0.12, -0.01, 0.01, 0.007)])
    out = [(torso[:, :3], torso[:, 3:], x, 48)]
    for side in (1, -1):
        m = np.array([side, 1, 1, 1, 1])
        out.append(((leg * m)[:, :3], leg[:, 3:], x, 28))
        out.append(((arm * m)[:, :3], arm[:, 3:], z, 24))
    return out


def _sweep(points, radii, hint, s, rings):
    """Vertices (rings * s + 2, 3) and faces of a closed tube; ring j of ring i is i * s + j,
    the two poles come last. Also returns the ring centres and frames."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    at = cum[-1] * (np.arange(rings) + 1) / (rings + 1)
    centre = np.stack([np.interp(at, cum, points[:, k]) for k in range(3)], axis=-1)
    r = np.stack([np.interp(at, cum, radii[:, k]) for k in range(2)], axis=-1)
    ext = np.concatenate([points[:1], centre, points[-1:]])
    tangent = ext[2:] - ext[:-2]
    tangent /= np.linalg.norm(tangent, axis=-1, keepdims=True)
    e1 = hint - (tangent @ hint)[:, None] * tangent
    e1 /= np.linalg.norm(e1, axis=-1, keepdims=True)
    e2 = np.cross(tangent, e1)
    phi = 2 * np.pi * np.arange(s) / s
    verts = (centre[:, None] + (r[:, 0, None] * np.cos(phi))[..., None] * e1[:, None]
             + (r[:, 1, None] * np.sin(phi))[..., None] * e2[:, None]).reshape(-1, 3)
    verts = np.concatenate([verts, points[:1], points[-1:]])
    i, j = np.meshgrid(np.arange(rings - 1), np.arange(s), indexing="ij")
    a, b = i * s + j, i * s + (j + 1) % s
    c, d = b + s, a + s
    quads = np.stack([np.stack([a, b, c], -1), np.stack([a, c, d], -1)], axis=2)  # (rings-1, s, 2, 3)
    p0, p1 = rings * s, rings * s + 1
    js = np.arange(s)
    fan0 = np.stack([np.full(s, p0), (js + 1) % s, js], -1)
    last = (rings - 1) * s
    fan1 = np.stack([np.full(s, p1), last + js, last + (js + 1) % s], -1)
    return verts, quads, fan0, fan1, centre, e1, e2


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distances (V, B) from points (V, 3) to segments a-b (B, 3), and the closest points (V, B, 3)."""
    ab = b - a
    u = np.einsum("vbk,bk->vb", p[:, None] - a[None], ab) / np.maximum(np.sum(ab * ab, -1), 1e-12)
    closest = a[None] + u.clip(0, 1)[..., None] * ab[None]
    return np.linalg.norm(p[:, None] - closest, axis=-1), closest


def _template(scale: float) -> tuple[np.ndarray, np.ndarray]:
    """A body-shaped mesh with exactly SMPL-X's vertex and face counts: five closed tubes (torso
    and head, legs, arms), spare vertices inserted into pole fans hidden inside the torso, and
    eye and mouth holes (SMPL-X's mesh has holes too: 2V - F = 42)."""
    tubes = _tubes()
    area = np.array([np.sum(np.linalg.norm(np.diff(p, axis=0), axis=1) * np.pi * (r[1:] + r[:-1]).sum(-1) / 2)
                     for p, r, _, _ in tubes])
    budget = (NUM_VERTICES - 2 * len(tubes)) * area / area.sum()
    verts, faces, fans, torso_quads, offset = [], [], [], None, 0
    for k, ((points, radii, hint, s), n) in enumerate(zip(tubes, budget)):
        rings = int(n // s)
        v, quads, fan0, fan1, centre, e1, e2 = _sweep(points * scale, radii * scale, hint, s, rings)
        vol = np.einsum("fk,fk->f", v[quads[..., 0].reshape(-1)],
                        np.cross(v[quads[..., 1].reshape(-1)], v[quads[..., 2].reshape(-1)])).sum()
        vol += sum(np.einsum("fk,fk->f", v[f[:, 0]], np.cross(v[f[:, 1]], v[f[:, 2]])).sum() for f in (fan0, fan1))
        if vol < 0:  # outward normals
            quads, fan0, fan1 = quads[..., ::-1], fan0[:, ::-1], fan1[:, ::-1]
        quads, fan0, fan1 = quads + offset, fan0 + offset, fan1 + offset
        if k == 0:
            torso_quads = (quads, centre, e1, e2, s)
        else:
            faces.append(quads.reshape(-1, 3))
        fans.append((fan0, fan1))
        verts.append(v)
        offset += len(v)
    # eyes and mouth: 3 + 3 + 5 quads (22 faces) cut from the front of the head
    quads, centre, e1, e2, s = torso_quads
    keep = np.ones(quads.shape[:2], dtype=bool)
    front = np.cos(2 * np.pi * np.arange(s) / s)[None] * e1[:, None, 2] \
        + np.sin(2 * np.pi * np.arange(s) / s)[None] * e2[:, None, 2]  # z of each ring direction
    head = centre[:, 1] > 0.25 * scale
    for height, shift, width in ((0.355, 5, 3), (0.355, -5, 3), (0.275, 0, 5)):
        i = int(np.argmin(np.where(head, np.abs(centre[:, 1] - height * scale), np.inf)))
        j0 = int(np.argmax(front[i])) + shift - width // 2
        keep[i, (j0 + np.arange(width)) % s] = False
    faces.insert(0, quads[keep].reshape(-1, 3))
    verts = np.concatenate(verts)
    # spare vertices: split pole-fan triangles of the tubes' hidden starts (inside the torso) first
    spare = NUM_VERTICES - len(verts)
    candidates = np.concatenate([f[0] for f in fans[1:]] + [f[1] for f in fans[1:]] + [fans[0][0], fans[0][1]])
    split = candidates[:spare]
    new = len(verts) + np.arange(spare)
    verts = np.concatenate([verts, verts[split].mean(axis=1)])
    rest = candidates[spare:]
    faces += [rest, np.stack([split[:, 0], split[:, 1], new], -1), np.stack([split[:, 1], split[:, 2], new], -1),
              np.stack([split[:, 2], split[:, 0], new], -1)]
    faces = np.concatenate(faces)
    assert verts.shape == (NUM_VERTICES, 3) and faces.shape == (NUM_FACES, 3), (verts.shape, faces.shape)
    return verts, faces


def _bones(joints: np.ndarray) -> np.ndarray:
    """(55, 3) end point of each joint's bone: mean of its children, or a short continuation."""
    ends = np.zeros_like(joints)
    for j in range(NUM_JOINTS):
        children = np.flatnonzero(PARENTS == j)
        if j == 15:  # head: to the crown, not the jaw and eyes
            ends[j] = joints[j] + (0.0, 0.13, -0.01)
        elif j == 22:  # jaw to the chin
            ends[j] = joints[j] + (0.0, -0.02, 0.05)
        elif len(children):
            ends[j] = joints[children].mean(axis=0)
        else:
            d = joints[j] - joints[PARENTS[j]]
            ends[j] = joints[j] + (0.08 if j in (10, 11) else 0.025) * d / np.linalg.norm(d)
    return ends


def write_random_smplx_model(path: str | Path, seed: int = 0, gender: str = "NEUTRAL", release: str = "1.0") -> Path:
    """Write a random SMPL-X model ``.npz`` that ``smplx.SMPLX(path, ext="npz")`` loads: the real
    keys, shapes and joint tree, a ~1.7 m body-shaped template in a T-pose, nearest-bone skinning,
    and small smooth random shape, expression and pose blend shapes. Deterministic for ``seed``.
    ``path`` may be a folder (the file is then ``SMPLX_<GENDER>.npz`` in it). Written atomically.
    ``release`` "1.0": ``shapedirs`` with 10 shape + 10 expression components and only the keys
    ``smplx`` reads; "1.1": the v1.1 / 2020 layout, 300 shape (16 of them non-zero, as many as AMASS
    fits) + 100 expression components, plus the release's other keys (``vt``, ``ft``,
    ``hands_coeffsl/r``, ``joint2num``/``part2num`` pickled dicts, ``allow_pickle``) with stand-in
    contents. The v1.0 arrays are the same in both. For tests and demos only: it looks like a
    mannequin, not a person."""
    if release not in ("1.0", "1.1"):
        raise ValueError(f"release={release!r}; choose from ('1.0', '1.1')")
    gender = gender.upper()
    if gender.lower() not in GENDERS:
        raise ValueError(f"gender={gender!r}; choose from {tuple(g.upper() for g in GENDERS)}")
    path = Path(path)
    if path.is_dir():
        path = path / f"SMPLX_{gender}.npz"
    rng = np.random.default_rng([seed, GENDERS.index(gender.lower())])
    scale = {"NEUTRAL": 1.0, "MALE": 1.04, "FEMALE": 0.96}[gender]
    joints = _rest_joints() * scale
    verts, faces = _template(scale)
    # skinning: soft-min over the three nearest bones (eyes carry no skin; SMPL-X's eyeballs are
    # separate, here they are holes)
    ends = _bones(joints)
    dist, closest = _segment_distance(verts, joints, ends)
    dist[:, [23, 24]] = np.inf
    near = np.argsort(dist, axis=1)[:, :3]
    d = np.take_along_axis(dist, near, axis=1)
    w = np.exp(-(d - d[:, :1]) / 0.012)
    weights = np.zeros((NUM_VERTICES, NUM_JOINTS))
    np.put_along_axis(weights, near, w / w.sum(axis=1, keepdims=True), axis=1)
    owner = near[:, 0]
    # joint regressor: non-negative weights summing to 1 over each joint's 200 nearest vertices
    # that reproduce the joint (exactly where it lies inside the mesh), spread by a small ridge
    from scipy.optimize import nnls

    regressor = np.zeros((NUM_JOINTS, NUM_VERTICES))
    jd = np.linalg.norm(verts[None] - joints[:, None], axis=-1)
    k = 200
    for j in range(NUM_JOINTS):
        cand = np.argsort(jd[j], kind="stable")[:k]
        a = np.vstack([verts[cand].T, 10 * np.ones((1, k)), 1e-2 * np.eye(k)])
        w = nnls(a, np.concatenate([joints[j], [10.0], np.zeros(k)]))[0]
        regressor[j, cand] = w / w.sum()
    # shape space: height, girth, then smooth random fields; expressions move the face only
    shapedirs = np.zeros((NUM_VERTICES, 3, NUM_SHAPE + NUM_EXPRESSION))
    shapedirs[:, :, 0] = 0.03 * (verts - joints[0])
    out = verts - closest[np.arange(NUM_VERTICES), owner]
    shapedirs[:, :, 1] = 0.012 * out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-6)
    for k in range(2, NUM_SHAPE + NUM_EXPRESSION):
        freq = rng.normal(0.0, 4.0, size=(3, 3))
        field = np.sin(verts @ freq + rng.uniform(0, 2 * np.pi, size=3)) * rng.normal(0.0, 1.0, size=3)
        if k >= NUM_SHAPE:
            face = (verts[:, 1] > joints[12, 1] + 0.02) & (verts[:, 2] > joints[15, 2])
            field = 0.003 * field * face[:, None]
        else:
            field = 0.006 * field
        shapedirs[:, :, k] = field
    # pose correctives: a smooth random linear field per joint on the vertices it mostly drives
    posedirs = np.zeros((NUM_VERTICES, 3, NUM_POSE_BASIS), dtype=np.float32)
    fields = rng.normal(0.0, 0.02, size=(NUM_JOINTS, 3, 9, 3))
    for j in range(1, NUM_JOINTS):
        idx = np.flatnonzero(owner == j)
        if len(idx):
            posedirs[idx, :, (j - 1) * 9:j * 9] = np.einsum("cpk,vk->vcp", fields[j], verts[idx] - joints[j])
    # hands: orthonormal "PCA" bases and a slightly curled mean
    comps = [np.linalg.qr(rng.normal(size=(45, 45)))[0].T for _ in range(2)]
    mean = np.zeros((2, NUM_HAND_JOINTS, 3))
    mean[0, :12, 2], mean[1, :12, 2] = -0.15, 0.15
    # landmarks on the face
    centroid = verts[faces].mean(axis=1)
    face_faces = np.flatnonzero((centroid[:, 1] > joints[22, 1] - 0.03) & (centroid[:, 2] > joints[15, 2] + 0.03))

    def bary(*shape):
        b = rng.uniform(0.05, 1.0, size=(*shape, 3))
        return b / b.sum(axis=-1, keepdims=True)

    kintree = np.stack([PARENTS, np.arange(NUM_JOINTS)]).astype(np.int64)
    kintree[0, 0] = 4294967295  # as in the released files (uint32 -1)
    arrays = {
        "v_template": verts,
        "f": faces.astype(np.int32),
        "shapedirs": shapedirs.astype(np.float32),
        "posedirs": posedirs,
        "J_regressor": regressor.astype(np.float32),
        "kintree_table": kintree,
        "weights": weights.astype(np.float32),
        "hands_componentsl": comps[0], "hands_componentsr": comps[1],
        "hands_meanl": mean[0].reshape(-1), "hands_meanr": mean[1].reshape(-1),
        "lmk_faces_idx": rng.choice(face_faces, NUM_LANDMARKS).astype(np.int64),
        "lmk_bary_coords": bary(NUM_LANDMARKS),
        "dynamic_lmk_faces_idx": rng.choice(face_faces, DYNAMIC_LANDMARKS).astype(np.int64),
        "dynamic_lmk_bary_coords": bary(*DYNAMIC_LANDMARKS),
    }
    for key, shape in MODEL_KEYS.items():
        assert arrays[key].shape == shape, (key, arrays[key].shape, shape)
    if release == "1.1":
        wide = np.zeros((NUM_VERTICES, 3, SHAPE_SPACE + 100), dtype=np.float32)
        wide[:, :, :NUM_SHAPE] = arrays["shapedirs"][:, :, :NUM_SHAPE]
        wide[:, :, SHAPE_SPACE:SHAPE_SPACE + NUM_EXPRESSION] = arrays["shapedirs"][:, :, NUM_SHAPE:]
        for k in range(NUM_SHAPE, AMASS_BETAS):  # more shape components, drawn after everything else
            freq = rng.normal(0.0, 4.0, size=(3, 3))
            wide[:, :, k] = 0.006 * np.sin(verts @ freq + rng.uniform(0, 2 * np.pi, size=3)) * rng.normal(0.0, 1.0, 3)
        names = ["Pelvis", "L_Hip", "R_Hip", "Spine1", "L_Knee", "R_Knee", "Spine2", "L_Ankle", "R_Ankle", "Spine3",
                 "L_Foot", "R_Foot", "Neck", "L_Collar", "R_Collar", "Head", "L_Shoulder", "R_Shoulder", "L_Elbow",
                 "R_Elbow", "L_Wrist", "R_Wrist", "Jaw", "L_Eye", "R_Eye"]
        names += [f"{side}_Hand{k}" for side in "LR" for k in range(NUM_HAND_JOINTS)]
        arrays.update({
            "shapedirs": wide,
            "vt": rng.uniform(0.0, 1.0, size=(NUM_VERTICES, 2)), "ft": arrays["f"].copy(),
            "hands_coeffsl": rng.normal(size=(8, 45)), "hands_coeffsr": rng.normal(size=(8, 45)),
            "joint2num": np.array({n: i for i, n in enumerate(names)}, dtype=object),
            "part2num": np.array({"body": 0, "leftHand": 1, "rightHand": 2, "head": 3}, dtype=object),
            "allow_pickle": np.array(True),
        })
    return _atomic_npz(path, arrays, compress=True)
