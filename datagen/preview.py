"""``python -m datagen.preview``: the command; the code is in ``datagen.dataset.preview``."""
import sys

from datagen.dataset.preview import main

if __name__ == "__main__":
    sys.exit(main())
