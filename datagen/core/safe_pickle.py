"""Unpickling files users downloaded, without letting them run code.

``pickle.load`` calls whatever callable a file names (``os.system`` included). ``load`` only resolves
the globals a data file needs: Python's plain containers and numpy's array, dtype and scalar
reconstruction. Anything else raises ``UnsafePickleError`` before it is called.
"""
from __future__ import annotations

import io
import pickle

ALLOWED = {
    ("builtins", n) for n in ("dict", "list", "tuple", "set", "frozenset", "str", "bytes", "bytearray", "int",
                              "float", "complex", "bool", "slice", "range")
} | {
    ("collections", "OrderedDict"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy", "float64"), ("numpy", "float32"), ("numpy", "int64"),
    ("numpy", "int32"), ("numpy", "bool_"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
}


class UnsafePickleError(pickle.UnpicklingError):
    """The file names something other than plain data."""


class _Restricted(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED:
            raise UnsafePickleError(f"refusing to load {module}.{name} (only plain data and numpy arrays)")
        return super().find_class(module, name)


def load(fileobj) -> object:
    return _Restricted(fileobj).load()


def loads(data: bytes) -> object:
    return load(io.BytesIO(data))
