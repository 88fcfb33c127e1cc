"""``python -m datagen.export``: the command; the code is in ``datagen.dataset.export``."""
import sys

from datagen.dataset.export import main

if __name__ == "__main__":
    sys.exit(main())
