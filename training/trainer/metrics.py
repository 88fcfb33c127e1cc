"""Training logs: one JSON line per logged step in ``OUT/metrics.jsonl`` (always) and TensorBoard events
(optional), written by rank 0 only; throughput and model-FLOPs utilisation."""
from __future__ import annotations

import json
from pathlib import Path

import torch

# Dense bf16 peak FLOP/s per device, for MFU (set trainer.peak_flops for anything else).
PEAK_BF16_FLOPS = {"H100": 989e12, "H200": 989e12, "B200": 2250e12, "A100": 312e12, "L40S": 362e12,
                   "A10G": 125e12, "L4": 121e12, "A6000": 155e12}


def peak_flops(device: torch.device, configured: float | None) -> float | None:
    if configured:
        return float(configured)
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, value in PEAK_BF16_FLOPS.items():
        if key in name:
            return value
    return None


class MetricsLog:
    """Appends to metrics.jsonl (a resumed run continues the same file; entries past the resume step
    from a killed run are dropped so the file stays one line per step)."""

    def __init__(self, out: str | Path, enabled: bool, tensorboard: bool, resume_step: int = 0):
        self.enabled = enabled
        self.path = Path(out) / "metrics.jsonl"
        self.tb = None
        if not enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            kept = [ln for ln in self.path.read_text().splitlines()
                    if ln.strip() and json.loads(ln)["step"] <= resume_step]
            self.path.write_text("".join(ln + "\n" for ln in kept))
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(Path(out) / "tensorboard"), purge_step=resume_step + 1)

    def log(self, step: int, values: dict) -> None:
        if not self.enabled:
            return
        with self.path.open("a") as f:
            f.write(json.dumps({"step": step, **values}, sort_keys=True) + "\n")
        if self.tb is not None:
            for k, v in values.items():
                if isinstance(v, (int, float)):
                    self.tb.add_scalar(k, v, step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def read_metrics(out: str | Path) -> list[dict]:
    path = Path(out) / "metrics.jsonl"
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]
