"""``python -m datagen.validate PATH``: check a dataset (``datagen.runner.validate``), or a folder of clips in
VOID's per-clip layout (``datagen.void.layout``: VOID's ``sample/`` folder, what ``training/infer.py
model=affect`` writes).

On clip folders: a clip that cannot be used (no input video, no mask, a mask whose frames or size differ
from the video's, an unreadable file, a prompt.json without a "bg" string) is skipped with one line on
stderr; every usable clip is decoded frame by frame and checked, one line per failed clip on stdout; then
``N passed, M failed, K skipped (VOID clip layout)``. Exit code: 0 when at least one clip was usable and
none failed its checks (skipped clips do not count as failed), 1 when a usable clip failed, 2 when no clip
was usable. Bad input is one line ``error: ...`` and exit code 2 (``datagen.core.cli``).
"""
import sys
from pathlib import Path

from datagen.core.cli import command
from datagen.runner.validate import main as validate_dataset
from datagen.void.layout import check_clips, scan_clips


@command
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    paths = [a for a in argv if not a.startswith("-")]
    scanned = scan_clips(paths[0], need_mask=True) if len(paths) == 1 and "://" not in paths[0] \
        and not (Path(paths[0]) / "dataset.json").is_file() else ([], [])
    if any(scanned):
        passed, failed, skipped = check_clips(paths[0], skip=lambda line: print(line, file=sys.stderr),
                                              scanned=scanned)
        print(f"{passed} passed, {failed} failed, {skipped} skipped (VOID clip layout)")
        if passed + failed == 0:
            raise ValueError(f"{paths[0]}: no usable clip ({skipped} skipped)")
        return 1 if failed else 0
    return validate_dataset(argv)


if __name__ == "__main__":
    sys.exit(main())
