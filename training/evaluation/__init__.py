"""Scoring predictions against ground truth, for any model kind: the scores (scores) and the report's
machinery (report: splits, a split scored by a task, the tables). The command is ``training/jobs/evaluate.py``
(``python -m training.evaluate``)."""
