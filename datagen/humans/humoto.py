"""HUMOTO sequences: read, check, resample and write, as HUMOTO's own tools write and read them.

HUMOTO (Adobe, ICCV 2025; licence by request, so never shipped or fetched) records people
handling objects at 30 fps. Its public code (github.com/adobe-research/humoto: ``scripts/
extract_pk_data.py`` writes the pickles, ``utils/load_humoto.py`` and ``human_model/human_model.py``
read them) gives the layout::

    ROOT/<sequence>/<sequence>.pkl    {"armature": [{bone: [qw, qx, qy, qz, x, y, z]} per frame],
                                        "objects": {name: [[qw, qx, qy, qz, x, y, z] per frame]},
                                        "object_models": {name: {"mesh": (vertices, faces)}}  (with -m only)}
    ROOT/<sequence>/<sequence>.yaml   the text of the sequence (HUMOTO's renderer shows ``short_script``)
    OBJECTS/<name>/<name>.obj         object meshes (``humoto_objects_0805``), centred on their bounding box
    human_model_{up,mixamo}_bone_zup.json   the character (HUMOTO's ``human_model/``): per bone its rest
                                      ``matrix`` (4x4, world, Z up, translation = the bone's head) and
                                      ``parent``, plus the skinned mesh

A bone's seven numbers are Blender's pose channels (``pose_bone.rotation_quaternion`` and
``.location``): its transform *relative to its rest pose*, in the bone's own rest frame, so a file
means nothing without the character it was extracted with. The world pose of each bone is Blender's
(and ``HumanModelDifferentiable``'s) forward kinematics, ``M_b = M_parent @ inv(R_parent) @ R_b @
basis_b`` with ``R`` the rest matrices; its translation is the bone's head. Objects' seven numbers
are world poses of the stored mesh (Z up, metres). Object names may carry Blender's ``.001``
suffixes: the mesh is the one of the name before the first dot (HUMOTO's loader does the same).

The character is the JSON HUMOTO's pickles were extracted with (``up_bone`` if you ran its
``transfer_human_model`` step, HUMOTO's recommendation, else ``mixamo_bone``), Z up: pass it, or put
it in ``ROOT/human_model/`` (one of the two; with both present the loader cannot tell which one and
says so). ``write_sequence`` and ``write_character`` write the same layout (our motion fixtures use
them), so the reader is tested on the real format.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import pickle
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from datagen.core import safe_pickle
from datagen.core.rotations import from_matrix, normalise, slerp
from datagen.humans import skeleton as sk

SOURCE_FPS = 30.0
RESAMPLE_MODES = ("whole", "fps")
CHARACTER_DIR = "human_model"  # HUMOTO's folder of character JSONs, looked for under ROOT
CHARACTER_FILES = ("human_model_up_bone_zup.json", "human_model_mixamo_bone_zup.json")


class SequenceError(ValueError):
    """A sequence file that does not follow the HUMOTO format (the message names file and field)."""


@dataclass
class HumotoSequence:
    name: str
    bones: list[str]
    bone_quaternions: np.ndarray  # (T, J, 4) w, x, y, z: each bone's axes in the world (Blender's pose matrix)
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
    """``name``'s mesh: ``OBJECTS/<name>.obj`` or ``OBJECTS/<name>/<name>.obj`` (HUMOTO's object folder),
    else anywhere below; a Blender duplicate ``name.001`` uses the mesh of ``name``."""
    for stem in dict.fromkeys((name, name.split(".")[0])):
        for direct in (objects_dir / f"{stem}.obj", objects_dir / stem / f"{stem}.obj"):
            if direct.is_file():
                return direct
        for dirpath, _, files in sorted(os.walk(objects_dir)):
            if f"{stem}.obj" in files:
                return Path(dirpath) / f"{stem}.obj"
    return None


def _embedded_mesh(model, name: str, path: Path) -> Path:
    """An ``object_models`` entry of the pickle (``extract_pk_data.py -m``: ``{"mesh": (vertices,
    faces)}``, the object's own coordinates) as an OBJ file in the cache, keyed by its content."""
    from datagen.core.paths import cache_dir

    mesh = model.get("mesh") if isinstance(model, dict) else None
    try:
        v, f = (np.asarray(a) for a in mesh)
        v, f = v.astype(np.float64), f.astype(np.int64)
    except (TypeError, ValueError):
        raise SequenceError(f"{path}: object_models[{name!r}] is not {{'mesh': (vertices, faces)}}") from None
    if v.ndim != 2 or v.shape[1] != 3 or f.ndim != 2 or f.shape[1] != 3 or not len(f) \
            or not np.isfinite(v).all() or f.min() < 0 or f.max() >= len(v):
        raise SequenceError(f"{path}: object_models[{name!r}] mesh has vertices {v.shape} and faces {f.shape} "
                            "out of range")
    digest = hashlib.sha256(v.tobytes() + f.tobytes()).hexdigest()[:16]
    out = cache_dir("humoto_meshes") / digest / f"{name}.obj"
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        _atomic(out, _obj_text(v, f, f"{name}, from {path.name}'s object_models").encode())
    return out


def _text(path: Path) -> str:
    """The sequence's text: ``short_script`` (what HUMOTO's renderer shows), else another text field,
    else every string in the file."""
    if not path.is_file():
        return ""
    import yaml
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise SequenceError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if isinstance(data, dict):
        for key in ("short_script", "text", "script", "description"):
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


# -- the character: rest matrices and forward kinematics ---------------------------------------------

@dataclass(frozen=True)
class Character:
    """HUMOTO's character JSON, the part that places bones: rest matrices and parents."""
    path: Path
    rest: dict[str, np.ndarray]  # bone -> (4, 4) rest matrix, world (Z up), translation = head
    parent: dict[str, str | None]

    def local(self, bone: str) -> np.ndarray:
        """(4, 4) rest transform of ``bone`` in its parent's rest frame (Blender's ``inv(R_parent) @ R_b``)."""
        up = self.parent[bone]
        return self.rest[bone] if up is None else np.linalg.inv(self.rest[up]) @ self.rest[bone]

    def order(self, bones) -> list[str]:
        """``bones`` and their ancestors, parents before children."""
        out: list[str] = []

        def visit(b):
            if b is not None and b not in out:
                visit(self.parent[b])
                out.append(b)
        for b in bones:
            visit(b)
        return out


def find_character(root: Path) -> Path:
    """The character JSON under ``ROOT/human_model/``: exactly one of ``CHARACTER_FILES``."""
    folder = root / CHARACTER_DIR
    found = [folder / n for n in CHARACTER_FILES if (folder / n).is_file()]
    if len(found) != 1:
        todo = "keep only that one" if found else "copy it there from the human_model/ folder of HUMOTO's code"
        raise SequenceError(f"{folder}: {'both' if found else 'neither'} of {' and '.join(CHARACTER_FILES)} "
                            f"(HUMOTO's bone values are relative to the character the pickles were extracted "
                            f"with: {todo})")
    return found[0]


@functools.lru_cache(maxsize=4)
def _character(path: str, stamp: tuple[int, int]) -> Character:
    where = Path(path)
    try:
        data = json.loads(where.read_text())
    except (OSError, ValueError) as e:
        raise SequenceError(f"{where}: not a readable JSON file ({str(e).splitlines()[0]})") from None
    bones = data.get("bones") if isinstance(data, dict) else None
    if not isinstance(bones, dict) or not bones:
        raise SequenceError(f"{where}: no 'bones' (HUMOTO's character JSON: bones.<name>.matrix and .parent)")
    rest, parent = {}, {}
    for name, bone in bones.items():
        try:
            m = np.asarray(bone["matrix"], dtype=np.float64)
            up = bone.get("parent")
        except (TypeError, KeyError, ValueError, AttributeError):
            raise SequenceError(f"{where}: bone {name!r} has no numeric 'matrix'") from None
        if m.shape != (4, 4) or not np.isfinite(m).all() or abs(np.linalg.det(m[:3, :3])) < 1e-9:
            raise SequenceError(f"{where}: bone {name!r} 'matrix' is not an invertible 4x4 transform")
        if up is not None and up != "" and (not isinstance(up, str) or up not in bones):
            raise SequenceError(f"{where}: bone {name!r} has parent {up!r}, which is not a bone")
        rest[name], parent[name] = m, up or None
    for name in bones:  # no cycles
        seen, b = set(), name
        while b is not None:
            if b in seen:
                raise SequenceError(f"{where}: bone {name!r} is its own ancestor")
            seen.add(b)
            b = parent[b]
    return Character(where, rest, parent)


def read_character(path: str | Path) -> Character:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"HUMOTO character not found: {path}")
    stat = path.stat()
    return _character(str(path.resolve()), (stat.st_mtime_ns, stat.st_size))


def _matrices(poses: np.ndarray) -> np.ndarray:
    """(..., 4, 4) transforms of (..., 7) [qw, qx, qy, qz, x, y, z] (translation after rotation)."""
    q = normalise(poses[..., :4])
    w, x, y, z = np.moveaxis(q, -1, 0)
    out = np.zeros(poses.shape[:-1] + (4, 4))
    out[..., 0, :3] = np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1)
    out[..., 1, :3] = np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1)
    out[..., 2, :3] = np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1)
    out[..., :3, 3] = poses[..., 4:7]
    out[..., 3, 3] = 1.0
    return out


def world_poses(channels: np.ndarray, bones: list[str], character: Character) -> np.ndarray:
    """(T, J, 4, 4) world pose matrices of ``bones`` from their pose channels (T, J, 7): Blender's
    forward kinematics over the character's rest matrices (bones absent from ``bones`` stay at rest,
    as in HUMOTO's ``HumanModelDifferentiable``)."""
    basis = dict(zip(bones, np.moveaxis(_matrices(channels), 1, 0)))
    eye = np.broadcast_to(np.eye(4), (len(channels), 4, 4))
    pose: dict[str, np.ndarray] = {}
    for b in character.order(bones):
        up = character.parent[b]
        pose[b] = (eye if up is None else pose[up]) @ character.local(b) @ basis.get(b, eye)
    return np.stack([pose[b] for b in bones], axis=1)


def pose_channels(world: np.ndarray, bones: list[str], character: Character) -> np.ndarray:
    """(T, J, 7) pose channels [qw, qx, qy, qz, x, y, z] that give the world pose matrices (T, J, 4, 4):
    the inverse of ``world_poses`` (every bone's ancestors must be among ``bones``)."""
    index = {b: j for j, b in enumerate(bones)}
    out = np.zeros(world.shape[:2] + (7,))
    for b, j in index.items():
        up = character.parent[b]
        parent = np.eye(4) if up is None else world[:, index[up]]
        basis = np.linalg.inv(character.local(b)) @ np.linalg.inv(parent) @ world[:, j]
        out[:, j, :4] = from_matrix(basis[:, :3, :3])
        out[:, j, 4:] = basis[:, :3, 3]
    return out


def list_sequences(root: str | Path) -> list[str]:
    """Sorted names of the sequences under ``root`` (folders holding ``<name>/<name>.pkl``)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"HUMOTO root not found: {root}")
    names = sorted(p.name for p in root.iterdir() if (p / f"{p.name}.pkl").is_file())
    if not names:
        raise FileNotFoundError(f"no HUMOTO sequences (<name>/<name>.pkl) under {root}")
    return names


def load_sequence(seq_dir: str | Path, objects_dir: str | Path | None = None,
                  character: str | Path | None = None) -> HumotoSequence:
    """Read and check one sequence and pose its bones in the world; ``objects_dir`` defaults to
    ``<root>/objects``, ``character`` (HUMOTO's character JSON) to the one in ``<root>/human_model/``."""
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
    rig = read_character(character) if character is not None else read_character(find_character(seq_dir.parent))
    unknown = [b for b in bones if b not in rig.rest]
    if unknown:
        raise SequenceError(f"{path}: bone {unknown[0]!r} is not in the character {rig.path}")
    world = world_poses(arm, bones, rig)
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
    embedded = data.get("object_models") if isinstance(data.get("object_models"), dict) else {}
    meshes = {}
    for n in names:
        mesh = find_mesh(objects_dir, n) if objects_dir.is_dir() else None
        if mesh is None and n in embedded:
            mesh = _embedded_mesh(embedded[n], n, path)
        if mesh is None:
            raise SequenceError(f"{path}: unknown object {n!r}: no {n.split('.')[0]}.obj under {objects_dir}")
        meshes[n] = mesh
    return HumotoSequence(name=seq_dir.name, bones=bones, bone_quaternions=from_matrix(world[..., :3, :3]),
                          bone_positions=world[..., :3, 3], objects=names,
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

def write_sequence(root: str | Path, name: str, channels: np.ndarray,
                   objects: dict[str, tuple[np.ndarray, np.ndarray]], text: str,
                   meshes: dict[str, "object"] | None = None, bones=sk.BONES,
                   objects_dir: str | Path | None = None) -> Path:
    """Write ``ROOT/<name>/<name>.pkl`` as HUMOTO's ``extract_pk_data.py`` does (pose channels (T, J, 7)
    per bone, world poses per object, plain lists of floats) and ``.yaml`` (``short_script``), and
    ``objects/<obj>.obj`` for the trimesh meshes given, centred on their bounding boxes; files appear
    complete or not at all. ``pose_channels`` turns world poses into channels."""
    import yaml

    root = Path(root)
    seq_dir = root / name
    seq_dir.mkdir(parents=True, exist_ok=True)
    armature = [{b: [float(v) for v in channels[t, j]] for j, b in enumerate(bones)} for t in range(len(channels))]
    objs = {n: [[float(v) for v in (*q[t], *p[t])] for t in range(len(p))] for n, (q, p) in objects.items()}
    _atomic(seq_dir / f"{name}.pkl", pickle.dumps({"armature": armature, "objects": objs}, protocol=4))
    _atomic(seq_dir / f"{name}.yaml", yaml.safe_dump({"short_script": text}, sort_keys=False).encode())
    out = Path(objects_dir) if objects_dir is not None else root / "objects"
    for n, mesh in (meshes or {}).items():
        out.mkdir(parents=True, exist_ok=True)
        centred = mesh.copy()
        centred.apply_translation(-(centred.bounds[0] + centred.bounds[1]) / 2)
        _atomic(out / f"{n}.obj", _obj_text(centred.vertices, centred.faces,
                                            f"{n}, centred on its bounding box, metres, Z up").encode())
    return seq_dir


def write_character(path: str | Path, rest: dict[str, np.ndarray], parent: dict[str, str | None]) -> Path:
    """Write a character JSON in HUMOTO's ``human_model`` layout: ``bones`` (rest ``matrix`` as rows,
    ``parent``), ``vertices``, ``faces`` and ``bone_influences`` (here a small triangle at each bone's
    head, skinned to it: enough for HUMOTO's ``HumanModelDifferentiable`` to load and pose)."""
    vertices, faces, influences = [], [], {}
    for k, (b, m) in enumerate(rest.items()):
        head = m[:3, 3]
        vertices += [head, head + (0.01, 0, 0), head + (0, 0.01, 0)]
        faces.append([3 * k, 3 * k + 1, 3 * k + 2])
        influences.update({str(3 * k + i): [{"bone": b, "weight": 1.0}] for i in range(3)})
    data = {"vertices": [[float(x) for x in v] for v in vertices], "faces": faces,
            "bones": {b: {"matrix": [[float(x) for x in row] for row in m], "parent": parent[b]}
                      for b, m in rest.items()},
            "bone_influences": influences}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic(path, json.dumps(data).encode())
    return path


def _obj_text(vertices: np.ndarray, faces: np.ndarray, comment: str) -> str:
    lines = [f"# {comment}"] + [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in vertices]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces]
    return "\n".join(lines) + "\n"


def _atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
