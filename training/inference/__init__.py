"""Running trained models on clips: reading inputs (inputs), the sampler runner (runner), sampling
schedules and windows (sampling), morphing detection (morphing) and the infer job (job), which
``training/infer.py`` runs."""
