"""Sample I/O: the one schema definition shared by the runner (writer), ``datagen.runner.validate`` and the
trainers' reader (``datagen.dataset.reader``).

A *sample* is a dict ``member name -> value``. A generator declares each member once with a
:class:`Member`; its ``kind`` fixes the in-memory type and the on-disk encoding (``docs/data_format.md``):

=========  ==============================================  ===========  ==================================
kind       in memory                                       file suffix  encoding
=========  ==============================================  ===========  ==================================
``video``  uint8 (T, H, W, 3) sRGB, H and W even           ``mp4``      H.264 (libx264, yuv420p, BT.709
                                                                        tv range), CRF configurable
``mask``   (T, H, W) uint8 / uint16 / float16 / float32    ``npy.gz``   ``.npy`` bytes, gzip level 9
           (masks, alphas; stored bit-exact)                            (mtime 0): lossless
``array``  any numeric ndarray                             ``npy``      ``.npy`` (``npy.gz`` if compress)
``json``   JSON-able dict/list (numpy scalars/arrays ok)   ``json``     UTF-8, sorted keys, no NaN
``text``   str                                             ``txt``      UTF-8
=========  ==============================================  ===========  ==================================

In a WebDataset tar, member ``name`` of the sample with key ``k`` is the file ``k.name.suffix``; readers
decode by suffix alone, so they need no generator code. Every encoding is deterministic: the same
sample gives the same bytes (x264 runs with one thread and bit-exact flags).
"""
from __future__ import annotations

import gzip
import io
import json
import re
import tarfile
from dataclasses import asdict, dataclass
from typing import Any, BinaryIO, Iterable, Iterator, Mapping

import numpy as np

from datagen.dataset.media import DEFAULT_CRF, DEFAULT_PRESET, MediaError, decode_mp4, encode_mp4

KINDS: dict[str, str] = {"video": "mp4", "mask": "npy.gz", "array": "npy", "json": "json", "text": "txt"}
MASK_DTYPES = ("uint8", "uint16", "float16", "float32")
INFO = "info"  # reserved member the runner adds to every sample: {"index": i, "seed": s}
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
KEY_DIGITS = 8
KEY_RE = re.compile(r"^\d{%d,}$" % KEY_DIGITS)
# videos are encoded and decoded by ``media`` (one ffmpeg for every reader and writer)


class SampleError(ValueError):
    """A sample that does not match its schema or cannot be encoded/decoded."""


@dataclass(frozen=True)
class Member:
    """One member of a sample: its kind (see the module table) and constraints checked on write and in
    ``datagen.runner.validate``. ``dtype``/``ndim`` constrain arrays (a mask's ``dtype`` defaults to uint8);
    ``crf`` is a video's x264 quality (0 best .. 51 worst; ``io.video_crf`` overrides it for a run);
    ``compress`` gzips an array; ``doc`` is one line for ``dataset.json``."""
    kind: str
    dtype: str | None = None
    ndim: int | None = None
    compress: bool = False
    crf: int = DEFAULT_CRF
    doc: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown member kind {self.kind!r}; choose from {sorted(KINDS)}")
        if self.kind == "mask":
            object.__setattr__(self, "dtype", self.dtype or "uint8")
            if self.dtype not in MASK_DTYPES:
                raise ValueError(f"mask dtype must be one of {MASK_DTYPES}, got {self.dtype!r}")
        if not 0 <= self.crf <= 51:
            raise ValueError(f"crf must be in 0..51, got {self.crf}")

    @property
    def ext(self) -> str:
        return "npy.gz" if self.kind == "array" and self.compress else KINDS[self.kind]

    def describe(self) -> dict:
        """The member as recorded in ``dataset.json`` (``crf`` only for videos)."""
        out = {k: v for k, v in asdict(self).items() if v not in (None, "", False) and k != "crf"}
        return out | ({"crf": self.crf} if self.kind == "video" else {}) | {"ext": self.ext}


Schema = Mapping[str, Member]
INFO_MEMBER = Member("json", doc="added by the runner: sample index and seed")


def check_schema(schema: Schema) -> None:
    """Raise ValueError unless ``schema`` maps valid member names to Members."""
    for name, member in schema.items():
        if not NAME_RE.match(name):
            raise ValueError(f"member name {name!r} must match {NAME_RE.pattern} (it becomes part of a file name)")
        if name == INFO:
            raise ValueError(f"member name {INFO!r} is reserved for the runner")
        if not isinstance(member, Member):
            raise ValueError(f"schema[{name!r}] must be a Member, got {type(member).__name__}")


def sample_key(index: int) -> str:
    return f"{index:0{KEY_DIGITS}d}"


def key_index(key: str) -> int | None:
    return int(key) if KEY_RE.match(key) else None


# ---------------------------------------------------------------------------------------------- checks

def check_value(name: str, member: Member, value: Any) -> list[str]:
    """Errors (empty when fine) for ``value`` as member ``name``: type, dtype and shape; not content."""
    kind = member.kind
    if kind == "text":
        return [] if isinstance(value, str) else [f"{name}: text member must be str, got {type(value).__name__}"]
    if kind == "json":
        ok = isinstance(value, (dict, list, str, int, float, bool)) or value is None
        return [] if ok else [f"{name}: json member must be a dict/list/scalar, got {type(value).__name__}"]
    if not isinstance(value, np.ndarray):
        return [f"{name}: {kind} member must be a numpy array, got {type(value).__name__}"]
    shape = "x".join(map(str, value.shape))
    if kind == "video":
        errors = []
        if value.dtype != np.uint8 or value.ndim != 4 or value.shape[-1] != 3:
            errors.append(f"{name}: video must be uint8 (T,H,W,3), got {value.dtype} {shape}")
        elif value.shape[0] < 1 or value.shape[1] % 2 or value.shape[2] % 2:
            errors.append(f"{name}: video needs T >= 1 and even H, W (yuv420p), got {shape}")
        return errors
    if value.dtype.kind not in "biuf":
        return [f"{name}: {kind} must have a numeric dtype, got {value.dtype}"]
    errors = []
    if member.dtype and value.dtype != np.dtype(member.dtype):
        errors.append(f"{name}: dtype must be {member.dtype}, got {value.dtype}")
    ndim = 3 if kind == "mask" else member.ndim
    if ndim is not None and value.ndim != ndim:
        errors.append(f"{name}: must have {ndim} dimensions{' (T,H,W)' if kind == 'mask' else ''}, got {shape}")
    return errors


def check_sample(sample: Mapping[str, Any], schema: Schema) -> list[str]:
    """Errors for a whole sample: missing and unexpected members plus :func:`check_value` of each."""
    if not isinstance(sample, Mapping):
        return [f"make_sample must return a dict of members, got {type(sample).__name__}"]
    errors = [f"{name}: missing member" for name in schema if name not in sample]
    errors += [f"{name}: member not in the schema" for name in sample if name not in schema]
    for name, member in schema.items():
        if name in sample:
            errors += check_value(name, member, sample[name])
    return errors


# -------------------------------------------------------------------------------------------- encoding

def _json_default(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def encode_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False,
                      default=_json_default).encode("utf-8")


def encode_npy(array: np.ndarray, compress: bool) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    data = buf.getvalue()
    return gzip.compress(data, compresslevel=9, mtime=0) if compress else data


def encode_member(member: Member, value: Any, *, fps: float = 12.0, crf: int | None = None,
                  preset: str = DEFAULT_PRESET) -> bytes:
    """The bytes stored for one member; ``crf`` overrides the member's own."""
    if member.kind == "video":
        return encode_mp4(value, fps, member.crf if crf is None else crf, preset)
    if member.kind in ("mask", "array"):
        return encode_npy(value, compress=member.ext.endswith(".gz"))
    if member.kind == "json":
        return encode_json(value)
    return value.encode("utf-8")


def decode_bytes(ext: str, data: bytes) -> Any:
    """Decode one stored member from its file suffix (``mp4``, ``npy``, ``npy.gz``, ``json``, ``txt``)."""
    try:
        if ext == "mp4":
            return decode_mp4(data)
        if ext in ("npy", "npy.gz"):
            raw = gzip.decompress(data) if ext == "npy.gz" else data
            return np.load(io.BytesIO(raw), allow_pickle=False)
        if ext == "json":
            return json.loads(data.decode("utf-8"))
        if ext == "txt":
            return data.decode("utf-8")
    except SampleError:
        raise
    except MediaError as e:  # a video's own message
        raise SampleError(str(e)) from None
    except Exception as e:  # corrupt bytes surface as many exception types; report them as one
        raise SampleError(f"cannot decode .{ext}: {type(e).__name__}: {e}") from None
    raise SampleError(f"unknown member suffix .{ext}")


def split_fname(fname: str) -> tuple[str, str, str]:
    """``"00000012.mask.npy.gz"`` -> ``("00000012", "mask", "npy.gz")``."""
    key, _, rest = fname.partition(".")
    name, _, ext = rest.partition(".")
    return key, name, ext


def encode_sample(sample: Mapping[str, Any], schema: Schema, index: int, seed: int, *, fps: float,
                  crf: int | None = None, preset: str = DEFAULT_PRESET) -> dict[str, bytes]:
    """Check ``sample`` against ``schema`` and encode it as a WebDataset sample dict
    (``{"__key__": key, "name.ext": bytes, ...}``) including the runner's ``info`` member."""
    errors = check_sample(sample, schema)
    if errors:
        raise SampleError("; ".join(errors))
    out: dict[str, Any] = {"__key__": sample_key(index),
                           f"{INFO}.json": encode_json({"index": int(index), "seed": int(seed)})}
    for name, member in schema.items():
        try:
            out[f"{name}.{member.ext}"] = encode_member(member, sample[name], fps=fps, crf=crf, preset=preset)
        except SampleError:
            raise
        except MediaError as e:  # ffmpeg's own message
            raise SampleError(str(e)) from None
        except (TypeError, ValueError) as e:
            raise SampleError(f"{name}: cannot encode as {member.kind}: {e}") from None
    return out


def decode_sample(files: Mapping[str, bytes], members: Iterable[str] | None = None) -> dict[str, Any]:
    """Decode a raw sample (``{"name.ext": bytes}``; ``__``-keys are passed through) by suffix.
    ``members`` restricts decoding to those names (others are dropped)."""
    wanted = None if members is None else set(members)
    out: dict[str, Any] = {}
    for fname, data in files.items():
        if fname.startswith("__"):
            out[fname] = data
            continue
        name, _, ext = fname.partition(".")
        if wanted is None or name in wanted:
            out[name] = decode_bytes(ext, data)
    return out


# ------------------------------------------------------------------------------------------------- tars

class HashingWriter:
    """A write-only file wrapper counting bytes and hashing them (sha256) on the way through."""

    def __init__(self, fileobj: BinaryIO):
        import hashlib

        self.fileobj, self.size, self.sha256 = fileobj, 0, hashlib.sha256()

    def write(self, data) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self.fileobj.write(data)

    def flush(self):
        self.fileobj.flush()


def tar_writer(fileobj: BinaryIO):
    """A WebDataset TarWriter with fixed metadata (mtime 0, uid/gid 0, no user names, mode 0444)
    so the same samples always give the same bytes. Members of a sample are written sorted."""
    import webdataset as wds

    return wds.TarWriter(fileobj, encoder=False, user="", group="", mode=0o444, mtime=0)


class UnsafeTarError(tarfile.TarError):
    """A tar member whose name points outside the tar (absolute, or with a ``..`` part)."""


def check_member_name(name: str) -> None:
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
        raise UnsafeTarError(f"unsafe tar member name {name!r} (absolute or '..')")


class _TailReader:
    """A read-only file wrapper remembering the last bytes read (to check a tar's end marker)."""

    def __init__(self, fileobj):
        self.fileobj, self.tail = fileobj, b""

    def read(self, n: int = -1) -> bytes:
        data = self.fileobj.read(n)
        self.tail = (self.tail + data)[-1024:]
        return data


def iter_tar(fileobj: BinaryIO) -> Iterator[tuple[str, dict[str, bytes]]]:
    """``(key, {"name.ext": bytes})`` for each sample of a tar stream, grouping consecutive files by
    key. Raises ``tarfile.TarError``/``EOFError``/``OSError`` on truncated or corrupt tars (a tar cut at
    a member boundary too: it lacks the end-of-archive blocks), and ``UnsafeTarError`` for a member with
    an absolute or ``..`` name (an untrusted tar must not name files outside wherever its samples are
    exported)."""
    key, files = None, {}
    reader = _TailReader(fileobj)
    with tarfile.open(fileobj=reader, mode="r|") as tar:
        for info in tar:
            check_member_name(info.name)
            if not info.isreg():
                continue
            k, name, ext = split_fname(info.name)
            data = tar.extractfile(info).read()
            if len(data) != info.size:
                raise tarfile.ReadError(f"unexpected end of data in {info.name}")
            if k != key:
                if key is not None:
                    yield key, files
                key, files = k, {}
            files[f"{name}.{ext}"] = data
    while reader.read(1 << 16):
        pass
    if len(reader.tail) < 1024 or any(reader.tail):
        raise tarfile.ReadError("truncated: no end-of-archive blocks")
    if key is not None:
        yield key, files
