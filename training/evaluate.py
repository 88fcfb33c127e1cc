"""``python -m training.evaluate``: score predictions on benchmark splits, next to ground truth and weightless
baselines (``training/evaluation/evaluate.py``, docs/evaluation.md)."""
import sys

from training.evaluation.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
