"""Training: the loop, optimiser and schedule, metrics logs, validation during training and the config
checks of the training commands."""
