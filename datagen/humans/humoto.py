"""HUMOTO-format sequences: read, check, resample and write.

HUMOTO (Adobe, ICCV 2025; licence by request, so never shipped or fetched) records people
handling objects at 30 fps. Layout, as VOID's tooling reads it::

    ROOT/<sequence>/<sequence>.pkl    {"armature": [{bone: [qw, qx, qy, qz, x, y, z]} per frame],
                                        "objects": {name: [[qw, qx, qy, qz, x, y, z] per frame]}}
    ROOT/<sequence>/<sequence>.yaml   the text script of the sequence
    OBJECTS/**/<name>.obj             object meshes, centred on their bounding box

Bones are the Mixamo rig's (``skeleton.BONES``), poses are world poses (the position is the bone's
head; for objects, the bounding-box centre), Z up, metres. ``write_sequence`` writes the same
layout (our motion fixtures use it), so the reader is tested on the real format.
"""
from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from datagen.core import safe_pickle
from datagen.core.rotations import normalise, slerp
from datagen.humans import skeleton as sk

SOURCE_FPS = 30.0
RESAMPLE_MODES = ("whole", "fps")


class SequenceError(ValueError):
    """A sequence file that does not follow the HUMOTO format (the message names file and field)."""


@dataclass
class HumotoSequence:
    name: str
    bones: list[str]
    bone_quaternions: np.ndarray  # (T, J, 4) w, x, y, z (world)
    bone_positions: np.ndarray  # (T, J, 3) bone heads (world)
    objects: list[str]
    object_quaternions: np.ndarray  # (T, K, 4)
    object_positions: np.ndarray  # (T, K, 3) bounding-box centres
    meshes: dict[str, Path] = field(default_factory=dict)
    text: str = ""
    fps: float = SOURCE_FPS
    source_frames: np.ndarray | None = None  # fractional frame of the recording per frame

    @property
    def frames(self) -> int:
        return len(self.bone_positions)

    def heads(self) -> np.ndarray:
        """(T, 65, 3) bone heads in ``skeleton.BONES`` order; NaN for bones the file lacks."""
        out = np.full((self.frames, len(sk.BONES), 3), np.nan)
        for j, b in enumerate(self.bones):
            if b in sk.INDEX:
                out[:, sk.INDEX[b]] = self.bone_positions[:, j]
        return out


def _poses(value, where: str, path: Path) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise SequenceError(f"{path}: {where} is not numeric") from None
    if arr.ndim < 1 or arr.shape[-1] != 7:
        raise SequenceError(f"{path}: {where} has shape {arr.shape}; expected 7 numbers "
                            "[qw, qx, qy, qz, x, y, z] per pose")
    if not np.isfinite(arr).all():
        raise SequenceError(f"{path}: {where} contains NaN or infinite values")
    if (np.linalg.norm(arr[..., :4], axis=-1) < 1e-8).any():
        raise SequenceError(f"{path}: {where} contains a zero quaternion")
    return arr



def find_mesh(objects_dir: Path, name: str) -> Path | None:
    direct = objects_dir / f"{name}.obj"
    if direct.is_file():
        return direct
    for dirpath, _, files in sorted(os.walk(objects_dir)):
        if f"{name}.obj" in files:
            return Path(dirpath) / f"{name}.obj"
    return None


def _text(path: Path) -> str:
    if not path.is_file():
        return ""
    import yaml
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise SequenceError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if isinstance(data, dict):
        for key in ("text", "script", "description"):
            if isinstance(data.get(key), str):
                return data[key].strip()
    parts: list[str] = []

    def walk(x):
        if isinstance(x, str):
            parts.append(x.strip())
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk(data)
    return " ".join(p for p in parts if p)


def list_sequences(root: str | Path) -> list[str]:
    """Sorted names of the sequences under ``root`` (folders holding ``<name>/<name>.pkl``)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"HUMOTO root not found: {root}")
    names = sorted(p.name for p in root.iterdir() if (p / f"{p.name}.pkl").is_file())
    if not names:
        raise FileNotFoundError(f"no HUMOTO sequences (<name>/<name>.pkl) under {root}")
    return names


def load_sequence(seq_dir: str | Path, objects_dir: str | Path | None = None) -> HumotoSequence:
    """Read and check one sequence; ``objects_dir`` defaults to ``<root>/objects``."""
    seq_dir = Path(seq_dir)
    path = seq_dir / f"{seq_dir.name}.pkl"
    if not path.is_file():
        raise FileNotFoundError(f"HUMOTO sequence file not found: {path}")
    with open(path, "rb") as f:
        try:
            data = safe_pickle.load(f)  # a downloaded file: plain data only, never code
        except safe_pickle.UnsafePickleError as e:
            raise SequenceError(f"{path}: {e}") from None
        except Exception as e:
            raise SequenceError(f"{path}: not a readable pickle ({type(e).__name__})") from None
    if not isinstance(data, dict) or "armature" not in data or "objects" not in data:
        raise SequenceError(f"{path}: expected a dict with 'armature' and 'objects'")
    frames = data["armature"]
    if not isinstance(frames, (list, tuple)) or not frames or not all(isinstance(f, dict) for f in frames):
        raise SequenceError(f"{path}: 'armature' must be a non-empty list of {{bone: pose}} per frame")
    bones = list(frames[0])
    missing = [b for b in sk.REQUIRED if b not in bones]
    if missing:
        raise SequenceError(f"{path}: missing bones {missing[:4]}{' ...' if len(missing) > 4 else ''}")
    for t, frame in enumerate(frames):
        if set(frame) != set(bones):
            lost = sorted(set(bones) - set(frame)) or sorted(set(frame) - set(bones))
            raise SequenceError(f"{path}: frame {t} has a different bone set (e.g. {lost[0]})")
    for t, frame in enumerate(frames):
        for b in bones:
            n = len(frame[b]) if hasattr(frame[b], "__len__") else 0
            if n != 7:
                raise SequenceError(f"{path}: armature frame {t} bone {b!r} has {n} numbers; expected 7 "
                                    "[qw, qx, qy, qz, x, y, z]")
    arm = np.stack([_poses([frame[b] for b in bones], f"armature frame {t}", path) for t, frame in enumerate(frames)])
    if not isinstance(data["objects"], dict):
        raise SequenceError(f"{path}: 'objects' must map object names to per-frame poses")
    names = list(data["objects"])
    objs = []
    for n in names:
        poses = _poses(data["objects"][n], f"object {n!r}", path)
        if poses.shape != (len(frames), 7):
            raise SequenceError(f"{path}: object {n!r} has shape {poses.shape}; expected ({len(frames)}, 7), "
                                "one pose per armature frame")
        objs.append(poses)
    obj = np.stack(objs, axis=1) if objs else np.zeros((len(frames), 0, 7))
    objects_dir = Path(objects_dir) if objects_dir is not None else seq_dir.parent / "objects"
    meshes = {}
    for n in names:
        mesh = find_mesh(objects_dir, n) if objects_dir.is_dir() else None
        if mesh is None:
            raise SequenceError(f"{path}: unknown object {n!r}: no {n}.obj under {objects_dir}")
        meshes[n] = mesh
    return HumotoSequence(name=seq_dir.name, bones=bones, bone_quaternions=normalise(arm[..., :4]),
                          bone_positions=arm[..., 4:], objects=names,
                          object_quaternions=normalise(obj[..., :4]), object_positions=obj[..., 4:],
                          meshes=meshes, text=_text(seq_dir / f"{seq_dir.name}.yaml"),
                          source_frames=np.arange(len(frames), dtype=np.float64))


# -- resampling ------------------------------------------------------------------------------------

def check_resample(mode: str) -> None:
    if mode not in RESAMPLE_MODES:
        raise ValueError(f"humoto.resample={mode!r}; choose from {RESAMPLE_MODES}")


def sample_times(num_source: int, frames: int, mode: str = "whole", fps: float = 16.0,
                 source_fps: float = SOURCE_FPS, start: float = 0.0) -> np.ndarray:
    """Fractional source frames for each output frame: ``whole`` spreads ``frames`` evenly over
    the recording (VOID's choice), ``fps`` plays it in real time at ``fps`` from ``start`` seconds
    (frames past the end hold the last pose)."""
    check_resample(mode)
    if mode == "whole":
        return np.linspace(0.0, num_source - 1, frames) if frames > 1 else np.zeros(1)
    times = (start + np.arange(frames) / fps) * source_fps
    return np.clip(times, 0.0, num_source - 1)



def _interp(times: np.ndarray, pos: np.ndarray, quat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    i0 = np.floor(times).astype(int)
    i1 = np.minimum(i0 + 1, len(pos) - 1)
    u = (times - i0)[:, None]
    p = pos[i0] * (1 - u[..., None]) + pos[i1] * u[..., None]
    q = slerp(quat[i0], quat[i1], np.broadcast_to(u, quat[i0].shape[:-1]))
    return p, q


def resample(seq: HumotoSequence, frames: int, mode: str = "whole", fps: float = 16.0,
             start: float = 0.0) -> HumotoSequence:
    times = sample_times(seq.frames, frames, mode, fps, seq.fps, start)
    bp, bq = _interp(times, seq.bone_positions, seq.bone_quaternions)
    op, oq = _interp(times, seq.object_positions, seq.object_quaternions)
    return replace(seq, bone_positions=bp, bone_quaternions=bq, object_positions=op, object_quaternions=oq,
                   fps=float(fps) if mode == "fps" else seq.fps * (frames - 1) / max(seq.frames - 1, 1),
                   source_frames=times)


# -- writing ---------------------------------------------------------------------------------------

def write_sequence(root: str | Path, name: str, bone_quaternions: np.ndarray, bone_positions: np.ndarray,
                   objects: dict[str, tuple[np.ndarray, np.ndarray]], text: str,
                   meshes: dict[str, "object"] | None = None, bones=sk.BONES,
                   objects_dir: str | Path | None = None) -> Path:
    """Write ``ROOT/<name>/<name>.pkl`` and ``.yaml`` (and ``objects/<obj>.obj`` for the trimesh
    meshes given, centred on their bounding boxes); files appear complete or not at all."""
    import yaml

    root = Path(root)
    seq_dir = root / name
    seq_dir.mkdir(parents=True, exist_ok=True)
    armature = [{b: [float(v) for v in (*bone_quaternions[t, j], *bone_positions[t, j])]
                 for j, b in enumerate(bones)} for t in range(len(bone_positions))]
    objs = {n: [[float(v) for v in (*q[t], *p[t])] for t in range(len(p))] for n, (q, p) in objects.items()}
    _atomic(seq_dir / f"{name}.pkl", pickle.dumps({"armature": armature, "objects": objs}, protocol=4))
    _atomic(seq_dir / f"{name}.yaml", yaml.safe_dump({"name": name, "text": text}, sort_keys=False).encode())
    out = Path(objects_dir) if objects_dir is not None else root / "objects"
    for n, mesh in (meshes or {}).items():
        out.mkdir(parents=True, exist_ok=True)
        centred = mesh.copy()
        centred.apply_translation(-(centred.bounds[0] + centred.bounds[1]) / 2)
        lines = [f"# {n}, centred on its bounding box, metres, Z up"]
        lines += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in centred.vertices]
        lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in centred.faces]
        _atomic(out / f"{n}.obj", ("\n".join(lines) + "\n").encode())
    return seq_dir


def _atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
