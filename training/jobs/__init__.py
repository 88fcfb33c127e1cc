"""The commands' jobs, each behind its entry point: ``infer`` (``training/infer.py``: run a trained model on
clips and write their outputs), ``evaluate`` (``python -m training.evaluate``: the benchmark report) and
``precompute`` (``training/precompute.py``: latent shards). They hold a task and call it; the machinery is
below them (``inference/``, ``evaluation/``, ``tasks/``)."""
