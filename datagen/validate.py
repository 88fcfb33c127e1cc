"""``python -m datagen.validate``: the command; the code is in ``datagen.runner.validate``."""
import sys

from datagen.runner.validate import main

if __name__ == "__main__":
    sys.exit(main())
