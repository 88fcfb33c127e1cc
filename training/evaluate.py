"""``python -m training.evaluate``: score predictions on benchmark splits, next to ground truth and weightless
baselines (``training/jobs/evaluate.py``, docs/evaluation.md)."""
import sys

from training.jobs.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
