"""How every command reports bad input: one line ``error: ...`` on stderr, exit code 2, no traceback.

    @command
    def main(argv=None) -> int | None: ...

    if __name__ == "__main__":
        sys.exit(main())

``INPUT_ERRORS`` are what a command's inputs cause: a value that is wrong (``ValueError`` and its kin:
``SampleError``, ``MediaError``, ``DataError``, ``DatasetError``, JSON and Unicode errors), a file that is
missing or unreadable (``OSError``: ``FileNotFoundError``, ``PermissionError``, a bad gzip), a corrupt tar
(``tarfile.TarError``, including ``UnsafeTarError``) or stream (``EOFError``, ``zlib.error``). The messages
of this code base's own errors name the input they are about. Anything else is a bug and keeps its
traceback.
"""
from __future__ import annotations

import functools
import sys
import tarfile
import zlib
from typing import Callable

INPUT_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, EOFError, tarfile.TarError, zlib.error)
EXIT_INPUT = 2  # the exit code of a command whose input is bad


def error_line(e: BaseException) -> str:
    """``error: <the first non-empty line of the message>`` (the error's type when it has no message)."""
    line = next((ln.strip() for ln in str(e).splitlines() if ln.strip()), "")
    return f"error: {line or type(e).__name__}"


def report_error(e: BaseException) -> int:
    """Print ``error_line(e)`` on stderr; returns ``EXIT_INPUT``."""
    print(error_line(e), file=sys.stderr, flush=True)
    return EXIT_INPUT


def command(main: Callable | None = None, *, also: tuple[type[BaseException], ...] = ()) -> Callable:
    """Decorate a command's ``main(argv=None)``: it returns its exit code (``None`` -> 0), and an input
    error (``INPUT_ERRORS`` plus ``also``) becomes one line on stderr and exit code 2."""
    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(*args, **kwargs) -> int:
            try:
                return int(fn(*args, **kwargs) or 0)
            except (*INPUT_ERRORS, *also) as e:
                return report_error(e)
        return run
    return wrap(main) if main is not None else wrap
