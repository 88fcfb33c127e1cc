"""Model code as plain ``nn.Module``s built from a config: the Wan2.1 DiT, Vera's Mixture-of-Transformers
and VOID's 48-channel inpainting DiT. Parallelism is applied from outside (``training/core/runtime.py``)."""
