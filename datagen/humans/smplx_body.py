"""SMPL-X bodies driven by AMASS motion: read and check motion files, resample them, and pose
the body with the ``smplx`` package.

SMPL-X model files (``SMPLX_NEUTRAL.npz`` …) are licence-restricted (https://smpl-x.is.tue.mpg.de):
they are never shipped or fetched, users bring their own and pass their folder (or file) to
``SmplxBody``. ``write_random_smplx_model`` writes a random but body-shaped stand-in with exactly
the keys, shapes and dtypes ``smplx.SMPLX(..., ext="npz")`` reads, so the loader and everything
downstream is tested on the real format without the real file.

Conventions follow AMASS's SMPL-X release ("SMPL-X G", MoSh++'s ``*_stageii.npz``): axis-angle
rotations, metres, and world coordinates as the motion gives them (Z up, the Y-up model is stood up
by ``root_orient``; nothing here rotates it). Full ``poses`` rows (165) are [root 3 | body 63 |
jaw 3 | eyes 6 | left hand 45 | right hand 45]; hand poses are full axis-angle with
``flat_hand_mean`` (AMASS's convention: sequences without hand capture store MANO's mean hand pose
explicitly). A published stage-II file holds ``gender``, ``surface_model_type``, ``mocap_frame_rate``,
``mocap_time_length``, ``markers_latent``, ``latent_labels``, ``markers_latent_vids`` (a pickled
dict: never read), ``trans``, ``poses``, ``betas`` (16), ``num_betas`` and the split ``root_orient``,
``pose_body``, ``pose_hand``, ``pose_jaw``, ``pose_eye``; AMASS's older SMPL+H release ("SMPL+H G":
``poses`` (T, 156), ``mocap_framerate``, ``gender`` as bytes, ``dmpls``) is refused in one line, its
poses and shapes belong to another body model.

SMPL-X model files come in two layouts: v1.0 (``shapedirs`` with 10 shape + 10 expression
components) and v1.1 / 2020 (300 + 100), both with extra keys (``vt``, ``ft``, ``hands_coeffs*``,
``joint2num``/``part2num`` as pickled dicts, even a key named ``allow_pickle``) that the ``smplx``
package does not need; ``safe_model_npz`` keeps only the arrays it reads."""
from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from datagen.core.rotations import from_axis_angle, multiply, slerp, to_axis_angle

NUM_VERTICES = 10475
NUM_FACES = 20908
NUM_JOINTS = 55
NUM_BODY_JOINTS = 21
NUM_HAND_JOINTS = 15
NUM_POSE_BASIS = (NUM_JOINTS - 1) * 9  # 486
NUM_SHAPE = 10  # the v1.0 layout: shapedirs holds 10 shape then 10 expression components
NUM_EXPRESSION = 10
SHAPE_SPACE = 300  # the v1.1 / 2020 layout: shapedirs holds 300 shape then 100 expression components
AMASS_BETAS = 16  # shape coefficients AMASS fits (``betas`` (16,), ``num_betas`` 16)
NUM_LANDMARKS = 51
DYNAMIC_LANDMARKS = (79, 17)
GENDERS = ("neutral", "male", "female")

# SMPL-X's kinematic tree (kintree_table[0]; the root's parent is stored as uint32 -1)
PARENTS = np.array([-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15,
                    20, 25, 26, 20, 28, 29, 20, 31, 32, 20, 34, 35, 20, 37, 38,
                    21, 40, 41, 21, 43, 44, 21, 46, 47, 21, 49, 50, 21, 52, 53], dtype=np.int64)

# the npz keys smplx.SMPLX reads, with their shapes (V vertices, F faces, J joints)
MODEL_KEYS = {
    "v_template": (NUM_VERTICES, 3),
    "f": (NUM_FACES, 3),
    "shapedirs": (NUM_VERTICES, 3, NUM_SHAPE + NUM_EXPRESSION),
    "posedirs": (NUM_VERTICES, 3, NUM_POSE_BASIS),
    "J_regressor": (NUM_JOINTS, NUM_VERTICES),
    "kintree_table": (2, NUM_JOINTS),
    "weights": (NUM_VERTICES, NUM_JOINTS),
    "hands_componentsl": (45, 45),
    "hands_componentsr": (45, 45),
    "hands_meanl": (45,),
    "hands_meanr": (45,),
    "lmk_faces_idx": (NUM_LANDMARKS,),
    "lmk_bary_coords": (NUM_LANDMARKS, 3),
    "dynamic_lmk_faces_idx": DYNAMIC_LANDMARKS,
    "dynamic_lmk_bary_coords": (*DYNAMIC_LANDMARKS, 3),
}






# -- motion ----------------------------------------------------------------------------------------

_PER_FRAME = {"trans": 3, "root_orient": 3, "pose_body": 3 * NUM_BODY_JOINTS, "pose_hand": 6 * NUM_HAND_JOINTS,
              "pose_jaw": 3, "pose_eye": 6}
# column ranges of the AMASS SMPL-X ``poses`` (T, 165) array
POSES_LAYOUT = {"root_orient": (0, 3), "pose_body": (3, 66), "pose_jaw": (66, 69), "pose_eye": (69, 75),
                "pose_hand": (75, 165)}


def _check(where: str, name: str, value, width: int | None, frames: int | None = None) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {name} is not numeric") from None
    if width is None:  # betas: (N,) or (1, N)
        if arr.ndim == 2 and arr.shape[0] == 1:
            arr = arr[0]
        if arr.ndim != 1:
            raise ValueError(f"{where}: {name} has shape {arr.shape}; expected (N,)")
    elif arr.ndim != 2 or arr.shape[1] != width:
        raise ValueError(f"{where}: {name} has shape {arr.shape}; expected (T, {width})")
    elif frames is not None and arr.shape[0] != frames:
        raise ValueError(f"{where}: {name} has {arr.shape[0]} frames but trans has {frames}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{where}: {name} contains NaN or infinite values")
    return arr


@dataclass
class AmassMotion:
    """One SMPL-X motion, AMASS layout: per-frame axis-angle rotations and root translation."""
    trans: np.ndarray  # (T, 3) metres, world (Z up)
    root_orient: np.ndarray  # (T, 3)
    pose_body: np.ndarray  # (T, 63) joints 1-21
    pose_hand: np.ndarray | None = None  # (T, 90) left then right hand, 15 joints each
    pose_jaw: np.ndarray | None = None  # (T, 3)
    pose_eye: np.ndarray | None = None  # (T, 6) left then right eye
    betas: np.ndarray | None = None  # (N,)
    fps: float = 30.0
    gender: str = "neutral"
    source_frames: np.ndarray | None = None  # fractional source frame per frame (after sample_motion)

    def __post_init__(self):
        where = "AmassMotion"
        self.trans = _check(where, "trans", self.trans, 3)
        frames = len(self.trans)
        if frames < 1:
            raise ValueError(f"{where}: motion has no frames")
        for name, width in _PER_FRAME.items():
            if name == "trans":
                continue
            value = getattr(self, name)
            if value is None:
                value = np.zeros((frames, width))
            setattr(self, name, _check(where, name, value, width, frames))
        self.betas = _check(where, "betas", np.zeros(0) if self.betas is None else self.betas, None)
        try:
            fps = float(self.fps)
        except (TypeError, ValueError):
            fps = float("nan")
        if not (np.isfinite(fps) and fps > 0):
            raise ValueError(f"{where}: fps={self.fps!r}; expected a positive number")
        self.fps = fps
        self.gender = str(self.gender).lower()

    @property
    def frames(self) -> int:
        return len(self.trans)

    def full_poses(self) -> np.ndarray:
        """(T, 165) in the AMASS SMPL-X ``poses`` layout."""
        out = np.zeros((self.frames, 165))
        for name, (a, b) in POSES_LAYOUT.items():
            out[:, a:b] = getattr(self, name)
        return out

    def rotations(self) -> np.ndarray:
        """(T, 55, 3) axis-angle per SMPL-X joint (the ``poses`` layout as joints)."""
        return self.full_poses().reshape(self.frames, NUM_JOINTS, 3)


def _scalar_text(value) -> str:
    v = np.asarray(value)
    v = v.item() if v.shape == () else (v.ravel()[0] if v.size else "")
    return v.decode() if isinstance(v, bytes) else str(v)


def load_amass_motion(path: str | Path) -> AmassMotion:
    """Read an AMASS SMPL-X ``.npz`` (split keys ``root_orient``/``pose_body``/… or one ``poses``
    (T, 165) array); raises ``ValueError`` naming the file and field for anything malformed."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"AMASS motion file not found: {path}")
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as e:  # not a zip / not npz
        raise ValueError(f"{path}: not a readable .npz file ({e})") from None
    with data:
        keys = set(data.files)

        def get(name):
            try:
                return data[name]
            except ValueError as e:  # object arrays need pickle, which we refuse
                raise ValueError(f"{path}: {name} cannot be read without pickle ({e})") from None

        where = str(path)
        if "surface_model_type" in keys:
            kind = _scalar_text(get("surface_model_type")).lower()
            if kind != "smplx":
                raise ValueError(f"{path}: surface_model_type is {kind!r}; this needs SMPL-X motion (AMASS's "
                                 "SMPL-X G release)")
        if "trans" not in keys:
            raise ValueError(f"{path}: missing key 'trans' (found {sorted(keys)})")
        trans = _check(where, "trans", get("trans"), 3)
        frames = len(trans)
        if frames < 1:
            raise ValueError(f"{path}: trans has no frames")
        fields = {}
        poses = None
        if "poses" in keys:
            raw = get("poses")
            poses = _check(where, "poses", raw, raw.shape[1] if raw.ndim == 2 else 165, frames)
            if poses.shape[1] != 165:
                hint = (" (AMASS's SMPL+H G layout: use its SMPL-X G release, SMPL+H poses and shapes do not "
                        "fit an SMPL-X body)" if poses.shape[1] == 156 else "")
                raise ValueError(f"{path}: poses has shape {poses.shape}; expected (T, 165){hint}")
        for name, width in _PER_FRAME.items():
            if name == "trans":
                continue
            if name in keys:
                fields[name] = _check(where, name, get(name), width, frames)
            elif poses is not None:
                a, b = POSES_LAYOUT[name]
                fields[name] = poses[:, a:b]
            elif name in ("root_orient", "pose_body"):
                raise ValueError(f"{path}: missing key '{name}' (and no 'poses' array to take it from)")
        if "betas" in keys:
            fields["betas"] = _check(where, "betas", get("betas"), None)
        rate = next((k for k in ("mocap_frame_rate", "mocap_framerate") if k in keys), None)
        if rate is None:
            raise ValueError(f"{path}: missing key 'mocap_frame_rate' (or 'mocap_framerate')")
        fps = np.asarray(get(rate), dtype=np.float64)
        if fps.size != 1 or not np.isfinite(fps).all() or fps.ravel()[0] <= 0:
            raise ValueError(f"{path}: {rate}={fps.tolist()!r}; expected one positive number")
        gender = _scalar_text(get("gender")).strip().lower() if "gender" in keys else "neutral"
        if gender not in GENDERS:
            raise ValueError(f"{path}: gender={gender!r}; expected one of {GENDERS}")
    return AmassMotion(trans=trans, fps=float(fps.ravel()[0]), gender=gender, **fields)


def write_amass_motion(path: str | Path, motion: AmassMotion, layout: str = "both") -> Path:
    """Write ``motion`` as an AMASS SMPL-X ``.npz``: ``layout`` "split" (root_orient, pose_body, …),
    "poses" (one (T, 165) array) or "both" (as AMASS ships it). Appears complete or not at all."""
    if layout not in ("split", "poses", "both"):
        raise ValueError(f"layout={layout!r}; choose from ('split', 'poses', 'both')")
    arrays = {"trans": motion.trans, "betas": motion.betas, "mocap_frame_rate": np.array(motion.fps),
              "gender": np.array(motion.gender), "surface_model_type": np.array("smplx")}
    if layout in ("split", "both"):
        arrays.update({name: getattr(motion, name) for name in POSES_LAYOUT})
    if layout in ("poses", "both"):
        arrays["poses"] = motion.full_poses()
    return _atomic_npz(Path(path), arrays, compress=False)


def _atomic_npz(path: Path, arrays: dict, compress: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            (np.savez_compressed if compress else np.savez)(f, **arrays)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def sample_motion(motion: AmassMotion, source_frames: np.ndarray) -> AmassMotion:
    """The motion at fractional source frames (clamped to the recording): translation linearly,
    every joint rotation by quaternion slerp. Integer frames return the source frames exactly."""
    t = np.clip(np.asarray(source_frames, dtype=np.float64).reshape(-1), 0.0, motion.frames - 1)
    if not np.isfinite(t).all():
        raise ValueError("sample_motion: source_frames contains NaN or infinite values")
    i0 = np.floor(t).astype(int)
    i1 = np.minimum(i0 + 1, motion.frames - 1)
    u = t - i0
    trans = motion.trans[i0] * (1 - u[:, None]) + motion.trans[i1] * u[:, None]
    rot = motion.rotations()
    q = slerp(from_axis_angle(rot[i0]), from_axis_angle(rot[i1]), np.broadcast_to(u[:, None], (len(t), NUM_JOINTS)))
    poses = np.where((u == 0)[:, None, None], rot[i0], to_axis_angle(q)).reshape(len(t), -1)
    fields = {name: poses[:, a:b] for name, (a, b) in POSES_LAYOUT.items()}
    step = np.median(np.diff(t)) if len(t) > 1 else 0.0
    fps = motion.fps / step if step > 0 else motion.fps
    return replace(motion, trans=trans, fps=fps, source_frames=t, betas=motion.betas.copy(), **fields)


def procedural_motion(frames: int, fps: float = 30.0, seed: int = 0) -> AmassMotion:
    """A person marching in place while raising and lowering both arms (sinusoidal joint angles,
    slight sway, small jaw and finger motion), standing on the Z-up floor like AMASS."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / fps
    step = 2 * np.pi * rng.uniform(0.8, 1.1) * t + rng.uniform(0, 2 * np.pi)  # steps, ~1 Hz
    arms = 2 * np.pi * rng.uniform(0.25, 0.4) * t + rng.uniform(0, 2 * np.pi)
    amp = rng.uniform(0.8, 1.2, size=4)
    rot = np.zeros((frames, NUM_JOINTS, 3))
    for j, phase in ((1, 0.0), (2, np.pi)):  # hips, knees, ankles
        lift = np.maximum(0.0, np.sin(step + phase))
        rot[:, j, 0] = -0.55 * amp[0] * lift  # hip flexion: thigh forward
        rot[:, j + 3, 0] = 1.1 * amp[0] * lift  # knee flexion
        rot[:, j + 6, 0] = -0.3 * amp[0] * lift
    raise_ = 0.5 - 0.5 * np.cos(arms)
    for j, sign in ((16, 1), (17, -1)):  # shoulders (arms along +-x in the rest T-pose)
        rot[:, j, 2] = sign * (-1.2 + 1.9 * amp[1] * raise_)
        rot[:, j + 2, 1] = -sign * 0.35 * amp[2] * (1 - raise_)  # elbows bend forward
    rot[:, 3, 1] = 0.08 * np.sin(step)  # spine twist
    rot[:, 6, 2] = 0.04 * np.sin(step)
    rot[:, 15, 0] = 0.1 * amp[3] * np.sin(arms)  # nod
    rot[:, 22, 0] = 0.08 * (1 + np.sin(3 * arms))  # jaw
    curl = 0.25 * (0.5 - 0.5 * np.cos(2 * arms))
    rot[:, 25:37, 2] = -curl[:, None]  # left fingers curl to the palm (-y)
    rot[:, 40:52, 2] = curl[:, None]
    rot[:, 37:40, 1] = -0.5 * curl[:, None]
    rot[:, 52:55, 1] = 0.5 * curl[:, None]
    yaw = rng.uniform(-np.pi, np.pi) + 0.05 * np.sin(step)
    q_up = from_axis_angle(np.array([np.pi / 2, 0.0, 0.0]))  # model Y up -> world Z up
    q_yaw = from_axis_angle(np.stack([np.zeros(frames), np.zeros(frames), yaw], axis=-1))
    rot[:, 0] = to_axis_angle(multiply(q_yaw, np.broadcast_to(q_up, (frames, 4))))
    start = rng.uniform(-0.5, 0.5, size=2)
    trans = np.zeros((frames, 3))
    trans[:, :2] = start + 0.01 * np.stack([np.sin(step), np.cos(step)], axis=-1)
    trans[:, 2] = 0.95 + 0.015 * np.abs(np.sin(step))
    poses = rot.reshape(frames, -1)
    return AmassMotion(trans=trans, betas=rng.normal(0.0, 0.5, size=16), fps=fps, gender="neutral",
                       **{name: poses[:, a:b] for name, (a, b) in POSES_LAYOUT.items()})


# -- random model file -----------------------------------------------------------------------------

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


# -- posing ----------------------------------------------------------------------------------------

def find_model_file(model_path: str | Path, gender: str = "neutral") -> Path:
    """The SMPL-X file for ``gender``: ``model_path`` itself if a file, else ``SMPLX_<GENDER>.npz``
    (or ``.pkl``) in it or in its ``smplx/`` subfolder (``smplx.create``'s layout)."""
    model_path = Path(model_path)
    if model_path.is_file():
        return model_path
    if model_path.is_dir():
        for folder in (model_path, model_path / "smplx"):
            for ext in ("npz", "pkl"):
                f = folder / f"SMPLX_{gender.upper()}.{ext}"
                if f.is_file():
                    return f
        raise FileNotFoundError(f"no SMPLX_{gender.upper()}.npz in {model_path} (SMPL-X model files are "
                                "licence-restricted: download them from https://smpl-x.is.tue.mpg.de)")
    raise FileNotFoundError(f"SMPL-X model path not found: {model_path} (SMPL-X model files are "
                            "licence-restricted: download them from https://smpl-x.is.tue.mpg.de)")


def safe_model_npz(path: Path) -> Path:
    """A copy of a user's SMPL-X ``.npz`` holding only the arrays ``smplx`` reads (``MODEL_KEYS``, read
    without pickle; the release's other keys, pickled dicts and a key named ``allow_pickle`` included,
    are left out), checked against SMPL-X's keys and shapes, cached by content: the ``smplx`` package
    loads model files with ``allow_pickle=True``, so it only ever sees this copy."""
    import hashlib
    import os
    import tempfile

    from datagen.core.paths import cache_dir

    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    out = cache_dir("smplx_safe") / f"{digest}.npz"
    if out.is_file():
        return out
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as e:
        raise ValueError(f"{path}: not a readable .npz file ({e})") from None
    with data:
        missing = [k for k in MODEL_KEYS if k not in data.files]
        if missing:
            raise ValueError(f"{path}: not an SMPL-X model file, missing keys {missing}")
        arrays = {}
        for key in MODEL_KEYS:
            try:
                arrays[key] = data[key]
            except ValueError:  # an object array: would need pickle
                raise ValueError(f"{path}: {key} cannot be read without pickle") from None
    for key in ("v_template", "f", "J_regressor", "weights", "kintree_table"):
        shape = arrays[key].shape
        if shape != MODEL_KEYS[key]:
            raise ValueError(f"{path}: {key} has shape {shape}; SMPL-X's is {MODEL_KEYS[key]}")
    shape = arrays["shapedirs"].shape
    if len(shape) != 3 or shape[:2] != (NUM_VERTICES, 3) or shape[2] < NUM_SHAPE + NUM_EXPRESSION:
        raise ValueError(f"{path}: shapedirs has shape {shape}; SMPL-X's is ({NUM_VERTICES}, 3, 20) (v1.0) "
                         "or (10475, 3, 400) (v1.1)")
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=out.parent)
    os.close(fd)
    np.savez(tmp, **arrays)
    os.replace(tmp, out)
    return out


def npz_shape(path: Path, key: str) -> tuple[int, ...]:
    """The shape of one array in an ``.npz``, from its header (the data is not read)."""
    import zipfile

    with zipfile.ZipFile(path) as z, z.open(f"{key}.npy") as f:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        return tuple(read(f)[0])


class SmplxBody:
    """An SMPL-X body model (``smplx`` package) posed by ``AmassMotion`` frames, on ``device``,
    in batches of ``batch_size`` under ``torch.no_grad()``; outputs are float32 numpy arrays."""

    def __init__(self, model_path: str | Path, gender: str = "neutral", num_betas: int | None = None,
                 device: str = "cpu", *, flat_hand_mean: bool = True, batch_size: int = 32):
        """``num_betas`` None: AMASS's 16 where the file has them (v1.1: 300 shape components), else
        the 10 of a v1.0 file (its next 10 components are expressions, which ``smplx`` would take as
        shape if asked for more)."""
        import smplx
        import torch

        if gender.lower() not in GENDERS:
            raise ValueError(f"gender={gender!r}; choose from {GENDERS}")
        self.path = find_model_file(model_path, gender)
        ext = self.path.suffix.lstrip(".").lower()
        if ext != "npz":
            raise ValueError(f"{self.path}: SMPL-X .pkl model files can run code when loaded; use the .npz release")
        load_path = safe_model_npz(self.path)
        limit = SHAPE_SPACE if npz_shape(load_path, "shapedirs")[-1] >= SHAPE_SPACE + 100 else NUM_SHAPE
        num_betas = min(AMASS_BETAS if num_betas is None else int(num_betas), limit)
        self.gender = gender.lower()
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        # smplx prints a warning for 10-shape/10-expression (v1.0 layout) files; keep stdout clean
        with contextlib.redirect_stdout(io.StringIO()):
            model = smplx.SMPLX(str(load_path), ext=ext, gender=self.gender, num_betas=num_betas,
                                num_expression_coeffs=NUM_EXPRESSION, use_pca=False,
                                flat_hand_mean=flat_hand_mean, use_face_contour=False,
                                batch_size=self.batch_size, dtype=torch.float32)
        self.model = model.to(self.device).eval()
        self.num_betas = int(model.num_betas)
        self.faces = np.asarray(model.faces, dtype=np.int64).reshape(-1, 3)

    @property
    def num_vertices(self) -> int:
        return int(self.model.v_template.shape[0])

    def _betas(self, motion: AmassMotion) -> np.ndarray:
        b = np.zeros(self.num_betas)
        n = min(len(motion.betas), self.num_betas)
        b[:n] = motion.betas[:n]
        return b

    def _run(self, motion: AmassMotion) -> tuple[np.ndarray, np.ndarray]:
        import torch

        T, B = motion.frames, self.batch_size
        per_frame = {
            "transl": motion.trans, "global_orient": motion.root_orient, "body_pose": motion.pose_body,
            "jaw_pose": motion.pose_jaw, "leye_pose": motion.pose_eye[:, :3], "reye_pose": motion.pose_eye[:, 3:],
            "left_hand_pose": motion.pose_hand[:, :45], "right_hand_pose": motion.pose_hand[:, 45:],
        }
        betas = torch.as_tensor(np.broadcast_to(self._betas(motion), (B, self.num_betas)).copy(),
                                dtype=torch.float32, device=self.device)
        expression = torch.zeros((B, self.model.num_expression_coeffs), dtype=torch.float32, device=self.device)
        verts, joints = [], []
        with torch.no_grad():
            for start in range(0, T, B):
                idx = np.minimum(np.arange(start, start + B), T - 1)  # pad the last batch with its last frame
                n = min(B, T - start)
                inputs = {k: torch.as_tensor(v[idx], dtype=torch.float32, device=self.device)
                          for k, v in per_frame.items()}
                out = self.model(betas=betas, expression=expression, return_verts=True, **inputs)
                verts.append(out.vertices[:n].cpu().numpy())
                joints.append(out.joints[:n, :NUM_JOINTS].cpu().numpy())
        return np.concatenate(verts).astype(np.float32), np.concatenate(joints).astype(np.float32)

    def vertices(self, motion: AmassMotion) -> np.ndarray:
        """(T, 10475, 3) float32 world-space vertices, one mesh per motion frame."""
        return self._run(motion)[0]

    def joints(self, motion: AmassMotion) -> np.ndarray:
        """(T, 55, 3) float32 world-space positions of SMPL-X's kinematic joints."""
        return self._run(motion)[1]
