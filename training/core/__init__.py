"""The trainers' base: process group and parallelism (runtime), checkpoints and the EMA, the frozen
encoders, clips from shards, the flow-matching objective, flow-warped noise and the Hydra config.
Imports nothing else from training/."""
