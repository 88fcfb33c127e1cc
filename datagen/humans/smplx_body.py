"""SMPL-X bodies driven by AMASS motion: read and check motion files, resample them, and pose
the body with the ``smplx`` package.

SMPL-X model files (``SMPLX_NEUTRAL.npz`` …) are licence-restricted (https://smpl-x.is.tue.mpg.de):
they are never shipped or fetched, users bring their own and pass their folder (or file) to
``SmplxBody``. The tests write a random but body-shaped stand-in with exactly the keys, shapes and
dtypes ``smplx.SMPLX(..., ext="npz")`` reads (``tests/smplx_stand_in.py``), so the loader and everything
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
