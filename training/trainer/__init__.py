"""Training: the loop, optimiser and schedule, metrics logs, validation during training, the
config checks of the training commands and the latent precompute job."""
