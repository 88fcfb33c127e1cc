"""Scoring predictions against ground truth: the scores (scores) and the benchmark report
(evaluate), which ``python -m training.evaluate`` runs."""
