"""A stand-in for the few ``tensorflow.io.gfile`` functions Kubric calls.

Kubric imports TensorFlow only to copy and open files (possibly on gs:// or s3://). Pulling in
TensorFlow for that costs gigabytes and forces numpy 2, which breaks bpy, so when TensorFlow is
absent we register this module under the name ``tensorflow`` with the same calls implemented on
fsspec. Real TensorFlow always wins when it is installed.

Kubric imports TensorFlow as soon as it is imported, so a bare ``import kubric`` (without importing
counterfactory first) needs the stand-in as well. ``register()`` adds an import hook, last on
``sys.meta_path``, that answers Kubric's own ``import tensorflow`` with the stand-in when no real
TensorFlow is found; any other importer still finds no TensorFlow (libraries that probe for it are
not fooled). ``install_startup_hook()`` writes a one-line ``.pth`` file into the environment's
site-packages that loads this file (standard library only until Kubric asks for TensorFlow) and
registers the hook in every interpreter; it is run once per environment. Where it has not been run,
a bare ``import kubric`` fails on the missing ``tensorflow``: import Kubric through counterfactory
(``from datagen.kubric_compat import kb``), which installs the stand-in first.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
import types

STARTUP_HOOK = "counterfactory_kubric.pth"


def _fsspec():
    import fsspec  # deferred: the start-up hook loads this file in every interpreter

    return fsspec


def _fs(path):
    fs, p = _fsspec().core.url_to_fs(os.fspath(path))
    return fs, p


def GFile(name, mode="r"):  # noqa: N802 - mirrors tf.io.gfile.GFile
    """Open a local or remote file; parent folders of a written local file must exist (as in TF)."""
    return _fsspec().open(os.fspath(name), mode).open()


def exists(path) -> bool:
    fs, p = _fs(path)
    return fs.exists(p)


def copy(src, dst, overwrite: bool = False) -> None:
    """Copy a file between any two fsspec locations, refusing to clobber unless ``overwrite``."""
    if not overwrite and exists(dst):
        raise FileExistsError(f"{dst} exists (pass overwrite=True)")
    fsspec = _fsspec()
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
    _register(_stand_in())
    return True


def _stand_in() -> dict[str, types.ModuleType]:
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
    return {"tensorflow": tf, "tensorflow.io": io, "tensorflow.io.gfile": gfile}


def _register(modules: dict[str, types.ModuleType]) -> None:
    # ... and etils then routes gs:// and s3:// paths to fsspec instead of to "TensorFlow".
    os.environ.setdefault("EPATH_USE_TF", "false")
    sys.modules.update(modules)


def _imported_by_kubric() -> bool:
    """Whether the ``import`` being resolved is in Kubric's code (the import machinery skipped)."""
    frame = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not (module.startswith("importlib") or frame.f_globals.get("__file__") == __file__):
            return module == "kubric" or module.startswith("kubric.")
        frame = frame.f_back
    return False


class _KubricImports:
    """Finder and loader, last on ``sys.meta_path`` (asked only when no installed module matched):
    gives Kubric's ``import tensorflow`` the stand-in, and nobody else."""

    counterfactory_kubric_hook = True

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow" or not _imported_by_kubric():
            return None
        return importlib.util.spec_from_loader(name, self)

    def create_module(self, spec):
        modules = _stand_in()
        _register({k: m for k, m in modules.items() if k != spec.name})  # the import adds the rest
        return modules[spec.name]

    def exec_module(self, module) -> None:
        pass


def register() -> None:
    """Let a bare ``import kubric`` get the stand-in (once per interpreter)."""
    if not any(getattr(f, "counterfactory_kubric_hook", False) for f in sys.meta_path):
        sys.meta_path.append(_KubricImports())


def install_startup_hook(site_dir=None) -> Path:
    """Write ``STARTUP_HOOK`` into ``site_dir`` (default: this environment's site-packages): every
    interpreter there then runs ``register()`` at start-up. Returns the file written."""
    import sysconfig
    from pathlib import Path

    here = str(Path(__file__).resolve())
    line = ("import os, importlib.util as u; p = %r; s = os.path.exists(p) and "
            "u.spec_from_file_location('_counterfactory_kubric_hook', p); m = s and u.module_from_spec(s); "
            "s and (s.loader.exec_module(m), m.register())\n" % here)
    path = Path(site_dir or sysconfig.get_paths()["purelib"]) / STARTUP_HOOK
    path.write_text(line)
    return path
