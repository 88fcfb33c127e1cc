"""``python -m datagen.audit``."""
import sys

from datagen.audit import main

sys.exit(main())
