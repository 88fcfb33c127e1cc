"""``python -m datagen.audit``."""
from datagen.audit import main

main()
