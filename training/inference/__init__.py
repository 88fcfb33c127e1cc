"""Running a model on clips, for any model kind: reading inputs (inputs: what a kind reads is its task's
``ClipReads``), the sampler runner (runner), sampling schedules, guidance and windows (sampling), morphing
detection (morphing) and writing outputs at the input's size (writing). The infer job that puts them
together is ``training/jobs/infer.py``."""
