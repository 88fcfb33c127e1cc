"""The trainers' config sections as dataclasses, with one source of default values: the YAML in
``configs/training/`` (``datagen.core.sections.Section``: fields named as the YAML keys, no defaults of their
own, a missing or unknown key a one-line error). ``__post_init__`` converts and checks every value, so the
code reads typed values (no ``int(cfg.x)``, no ``.get(key, default)``) and a bad value fails in one line naming
its key before any work. The model section (``model/*.yaml``) is its task's to check (``training/tasks/``);
sampling settings are ``training.inference.runner.Settings``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from datagen.core.sections import Section
from training.core.config import CONFIG_DIR


def _count(key: str, value: Any, least: int = 1, note: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(f"{key} must be an integer >= {least}{note}, got {value!r}")
    return value


def _number(key: str, value: Any, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (positive and value <= 0) or value < 0:
        raise ValueError(f"{key} must be a number {'> 0' if positive else '>= 0'}, got {value!r}")
    return float(value)


class _Training(Section):
    CONFIG_ROOT: ClassVar = CONFIG_DIR


@dataclass
class DataConfig(_Training):
    SECTION: ClassVar = ("train", "data")
    path: Any  # a local path or fsspec URL (required by train and precompute: trainer/checks.py)
    frames: int | None  # 4k+1, or None: the most the clips allow
    height: int | None
    width: int | None
    batch_size: int
    shuffle: bool

    def __post_init__(self):
        self.batch_size = _count("data.batch_size", self.batch_size)
        for key in ("frames", "height", "width"):
            value = getattr(self, key)
            if value is not None:
                _count(f"data.{key}", value)
        self.shuffle = bool(self.shuffle)


@dataclass
class FlowConfig(_Training):
    SECTION: ClassVar = ("train", "flow")
    sampling: str
    shift: float
    fixed_noise: bool

    def __post_init__(self):
        if self.sampling not in ("uniform", "logit_normal"):
            raise ValueError(f"flow.sampling must be uniform or logit_normal, got {self.sampling!r}")
        self.shift = _number("flow.shift", self.shift, positive=True)
        self.fixed_noise = bool(self.fixed_noise)


@dataclass
class OptimConfig(_Training):
    SECTION: ClassVar = ("train", "optim")
    lr: float
    weight_decay: float
    betas: tuple[float, float]
    eps: float
    warmup_steps: int
    min_lr_ratio: float

    def __post_init__(self):
        self.lr = _number("optim.lr", self.lr, positive=True)
        self.weight_decay = _number("optim.weight_decay", self.weight_decay)
        self.eps = _number("optim.eps", self.eps, positive=True)
        self.min_lr_ratio = _number("optim.min_lr_ratio", self.min_lr_ratio)
        self.warmup_steps = _count("optim.warmup_steps", self.warmup_steps, least=0)
        betas = tuple(self.betas)
        if len(betas) != 2 or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas):
            raise ValueError(f"optim.betas must be two numbers in [0, 1), got {list(betas)!r}")
        self.betas = (float(betas[0]), float(betas[1]))


@dataclass
class EmaConfig(_Training):
    SECTION: ClassVar = ("train", "trainer.ema")
    enabled: bool
    decay: float

    def __post_init__(self):
        self.enabled = bool(self.enabled)
        self.decay = float(self.decay)
        if not 0 <= self.decay < 1:
            raise ValueError(f"trainer.ema.decay must be in [0, 1), got {self.decay!r}")


@dataclass
class ValidateConfig(_Training):
    SECTION: ClassVar = ("train", "trainer.validate")
    path: Any  # a held-out dataset; None: data.path
    clips: int
    steps: int
    sampler: str
    shift: float
    guidance: float
    seed: int
    fps: float

    def __post_init__(self):
        self.clips = _count("trainer.validate.clips", self.clips)
        self.steps = _count("trainer.validate.steps", self.steps)
        self.seed = _count("trainer.validate.seed", self.seed, least=0)
        self.fps = _number("trainer.validate.fps", self.fps, positive=True)


@dataclass
class TrainerConfig(_Training):
    SECTION: ClassVar = ("train", "trainer")
    out: Any
    max_steps: int
    resume: Any  # None | auto | a checkpoint or run folder
    init_from: Any  # None | a checkpoint or run folder
    checkpoint_every: int
    keep_checkpoints: int
    log_every: int
    device: str
    dtype: str
    fsdp: Any  # auto | true | false
    activation_checkpointing: bool
    grad_clip: float
    ema: EmaConfig
    tensorboard: bool
    peak_flops: float | None
    validate_every: int
    validate: ValidateConfig

    def __post_init__(self):
        for key in ("max_steps", "checkpoint_every", "log_every"):
            setattr(self, key, _count(f"trainer.{key}", getattr(self, key)))
        self.keep_checkpoints = _count("trainer.keep_checkpoints", self.keep_checkpoints)
        self.validate_every = _count("trainer.validate_every", self.validate_every, least=0, note=" (0: off)")
        if self.fsdp not in ("auto", True, False):
            raise ValueError(f"trainer.fsdp must be auto, true or false, got {self.fsdp!r}")
        self.grad_clip = _number("trainer.grad_clip", self.grad_clip)
        self.device, self.dtype = str(self.device), str(self.dtype)
        self.activation_checkpointing, self.tensorboard = bool(self.activation_checkpointing), bool(self.tensorboard)
        if self.peak_flops is not None:
            self.peak_flops = _number("trainer.peak_flops", self.peak_flops, positive=True)
        if not isinstance(self.ema, EmaConfig):
            self.ema = EmaConfig.from_section(self.ema)
        if not isinstance(self.validate, ValidateConfig):
            self.validate = ValidateConfig.from_section(self.validate)


@dataclass
class InferConfig(_Training):
    """``infer:`` of infer.yaml; its sampling keys become ``Settings`` (``training/inference/runner.py``)."""
    SECTION: ClassVar = ("infer", "infer")
    input: Any
    out: Any
    checkpoint: Any
    ema: Any  # auto | true | false
    limit: int | None
    prompt: str | None
    negative_prompt: str | None
    sampler: str
    steps: int
    shift: float
    guidance: float
    seed: int
    window: int | None
    overlap: int
    fps: float | None
    max_side: int | None
    default_max_side: int
    alpha_floor: int

    def __post_init__(self):
        if self.ema not in ("auto", True, False, "true", "false"):
            raise ValueError(f"infer.ema must be auto, true or false, got {self.ema!r}")
        if self.limit is not None:
            self.limit = _count("infer.limit", self.limit, least=0)
        if self.fps is not None:
            self.fps = _number("infer.fps", self.fps, positive=True)
        if self.max_side is not None:
            self.max_side = _count("infer.max_side", self.max_side, least=16)
        self.default_max_side = _count("infer.default_max_side", self.default_max_side, least=16)


@dataclass
class TrainSections:
    """The typed sections of a training command's config (``train_sections``)."""
    seed: int
    data: DataConfig
    flow: FlowConfig
    optim: OptimConfig
    trainer: TrainerConfig


def train_sections(cfg) -> TrainSections:
    """Every section of a composed train config, converted and checked (ValueError, one line)."""
    return TrainSections(_count("seed", cfg.seed, least=0), DataConfig.from_section(cfg.data),
                         FlowConfig.from_section(cfg.flow), OptimConfig.from_section(cfg.optim),
                         TrainerConfig.from_section(cfg.trainer))
