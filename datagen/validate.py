"""``python -m datagen.validate PATH``: check a dataset (``datagen.runner.validate``), or a folder of clips in
VOID's inference layout (``datagen.void.layout``: what ``training/infer.py model=affect`` writes)."""
import sys
from pathlib import Path

from datagen.runner.validate import main as validate_dataset
from datagen.void.layout import check_void_clips, void_clip_folders


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    paths = [a for a in argv if not a.startswith("-")]
    if len(paths) == 1 and "://" not in paths[0] and not (Path(paths[0]) / "dataset.json").is_file() \
            and void_clip_folders(paths[0]):
        passed, failed = check_void_clips(paths[0])
        print(f"{passed} passed, {failed} failed (VOID clip layout)")
        return 1 if failed else 0
    return validate_dataset(argv)


if __name__ == "__main__":
    sys.exit(main())
