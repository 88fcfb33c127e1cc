"""A stand-in for the few ``tensorflow.io.gfile`` functions Kubric calls.

Kubric imports TensorFlow only to copy and open files (possibly on gs:// or s3://). Pulling in
TensorFlow for that costs gigabytes and forces numpy 2, which breaks bpy, so when TensorFlow is
absent we register this module under the name ``tensorflow`` with the same calls implemented on
fsspec. Real TensorFlow always wins when it is installed.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
import types

import fsspec


def _fs(path):
    fs, p = fsspec.core.url_to_fs(os.fspath(path))
    return fs, p


def GFile(name, mode="r"):  # noqa: N802 - mirrors tf.io.gfile.GFile
    """Open a local or remote file; parent folders of a written local file must exist (as in TF)."""
    return fsspec.open(os.fspath(name), mode).open()


def exists(path) -> bool:
    fs, p = _fs(path)
    return fs.exists(p)


def copy(src, dst, overwrite: bool = False) -> None:
    """Copy a file between any two fsspec locations, refusing to clobber unless ``overwrite``."""
    if not overwrite and exists(dst):
        raise FileExistsError(f"{dst} exists (pass overwrite=True)")
    with fsspec.open(os.fspath(src), "rb") as fin, fsspec.open(os.fspath(dst), "wb") as fout:
        while chunk := fin.read(1 << 22):
            fout.write(chunk)


def makedirs(path) -> None:
    fs, p = _fs(path)
    fs.makedirs(p, exist_ok=True)


def glob(pattern):
    fs, p = _fs(pattern)
    local = "://" not in os.fspath(pattern)
    return sorted(m if local else fs.unstrip_protocol(m) for m in fs.glob(p))


def remove(path) -> None:
    fs, p = _fs(path)
    fs.rm(p)


def rmtree(path) -> None:
    fs, p = _fs(path)
    fs.rm(p, recursive=True)


def listdir(path):
    fs, p = _fs(path)
    return sorted(os.path.basename(e.rstrip("/")) for e in fs.ls(p, detail=False))


def isdir(path) -> bool:
    fs, p = _fs(path)
    return fs.isdir(p)


def rename(src, dst, overwrite: bool = False) -> None:
    if not overwrite and exists(dst):
        raise FileExistsError(f"{dst} exists (pass overwrite=True)")
    fs, p = _fs(src)
    fs.mv(p, _fs(dst)[1])


def install() -> bool:
    """Register the stand-in as ``tensorflow`` unless TensorFlow is importable; True if installed."""
    if "tensorflow" in sys.modules:
        return getattr(sys.modules["tensorflow"], "__counterfactory_stand_in__", False)
    if importlib.util.find_spec("tensorflow") is not None:
        return False
    gfile = types.ModuleType("tensorflow.io.gfile")
    for fn in (GFile, exists, copy, makedirs, glob, remove, rmtree, listdir, isdir, rename):
        setattr(gfile, fn.__name__, fn)
    io = types.ModuleType("tensorflow.io")
    io.gfile = gfile
    tf = types.ModuleType("tensorflow")
    tf.io = io
    tf.__counterfactory_stand_in__ = True
    # etils asks importlib whether TensorFlow exists; a module without a spec makes that raise.
    for mod in (tf, io, gfile):
        mod.__spec__ = importlib.machinery.ModuleSpec(mod.__name__, None)
    # ... and etils then routes gs:// and s3:// paths to fsspec instead of to "TensorFlow".
    os.environ.setdefault("EPATH_USE_TF", "false")
    sys.modules.update({"tensorflow": tf, "tensorflow.io": io, "tensorflow.io.gfile": gfile})
    return True
