"""The Task protocol: everything that differs between model kinds, in one class per kind.

A task is the one place a model kind is known. The trainer, precompute, validation, the infer job and the
evaluation report hold a task and call it; none of them branches on a model's name. A new model is its
module in ``models/``, one file here (a ``Task`` subclass, added to ``TASKS``) and one YAML in
``configs/training/model/``. ``check_task`` runs when the registry is built, like the generator contract
(``datagen/runner/generator.py``): a task that does not declare the protocol fails at import, in one line.

Declared (class attributes):

    name               model=NAME
    source_generator   the generator module whose shards train it (``dataset.json`` ``generator``)
    scores_source      whether ``python -m training.evaluate`` scores that generator's splits with this task
                       when no ``--task`` is given (one task per generator)
    members            the raw shard members it reads to train
    latent_keys        what ``encode`` returns (and ``training/precompute.py`` stores)
    pixel_keys         the keys of ``latent_keys`` that are uint8-valued pixel grids (0/1 masks, 0-255
                       frames): stored as gzipped uint8, not as latents
    uses_text          whether it needs the text encoder
    reads              what inference reads of a clip (``training.inference.inputs.ClipReads``)
    baselines          the weightless baselines of its evaluation; ``columns``: its report's columns

Methods: training ``build_model``, ``clip``, ``encode``, ``loss``, ``num_tokens``, ``seq_len``;
inference ``options``, ``run``, ``write``, ``preview``; evaluation (classmethods: the report scores files
without a model config) ``prediction``, ``read_prediction``,
``candidates``, ``score``, ``summarise``, ``report_row``. ``__init__`` checks the task's own ``model.*``
options (ValueError, one line, before any model is built).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch

from training.inference.inputs import ClipReads

DECLARED = {"name": str, "source_generator": str, "scores_source": bool, "members": tuple, "latent_keys": tuple,
            "pixel_keys": tuple, "uses_text": bool, "reads": ClipReads, "baselines": tuple, "columns": tuple}
METHODS = ("build_model", "clip", "encode", "loss", "num_tokens", "seq_len",
           "options", "run", "write", "preview", "prediction", "read_prediction", "candidates", "score", "summarise",
           "report_row")
SHARED = ("num_tokens", "seq_len", "options", "preview", "summarise", "report_row")  # the base's serve most tasks


class Task:
    """Base of every task: the declarations are filled in by each subclass; the methods below are the ones
    most tasks share."""
    name: ClassVar[str]
    source_generator: ClassVar[str]
    scores_source: ClassVar[bool] = True
    members: ClassVar[tuple[str, ...]]
    latent_keys: ClassVar[tuple[str, ...]]
    pixel_keys: ClassVar[tuple[str, ...]] = ()
    uses_text: ClassVar[bool] = True
    reads: ClassVar[ClipReads]
    baselines: ClassVar[tuple[str, ...]]
    columns: ClassVar[tuple[str, ...]]

    def __init__(self, model_cfg):
        from training.core.config import SIZES

        if str(model_cfg.size) not in SIZES:
            raise ValueError(f"model.size must be one of {SIZES}, got {model_cfg.size!r}")
        self.cfg = model_cfg

    # -- training ---------------------------------------------------------------------------------------
    def build_model(self, pretrained: bool = True) -> torch.nn.Module:
        raise NotImplementedError

    def clip(self, sample: dict, data_cfg) -> dict:
        raise NotImplementedError

    def encode(self, batch: dict, vae, text) -> dict:
        raise NotImplementedError

    def loss(self, model, lat: dict, generator: torch.Generator, flow_cfg, device, dtype):
        raise NotImplementedError

    def num_tokens(self, lat: dict) -> int:
        """Transformer tokens of a latent batch (what throughput counts)."""
        return tokens(lat[self.latent_keys[0]])

    def seq_len(self, lat: dict) -> int:
        """Tokens of one sample (what ``flops_per_token`` takes)."""
        first = lat[self.latent_keys[0]]
        return tokens(first) // first.shape[0]

    # -- inference --------------------------------------------------------------------------------------
    def options(self, cfg, runner) -> Any:
        """What ``run`` and ``write`` need beyond the clip, from the infer command's config (None: nothing)."""
        return None

    def run(self, runner, clip, options=None) -> dict:
        """One clip through the model at its working size (``training.inference.runner.Runner``); with
        ``options=None`` the single pass validation scores."""
        raise NotImplementedError

    def write(self, folder: Path, clip, result: dict, settings: dict, fps: float, options=None) -> Path:
        """The clip's outputs at the input's own size (``training.inference.writing``)."""
        raise NotImplementedError

    def preview(self, result: dict):
        """A uint8 video of ``run``'s result to look at (validation saves and logs it)."""
        return result["final"]

    # -- evaluation -------------------------------------------------------------------------------------
    @classmethod
    def prediction(cls, result: dict) -> Any:
        """What ``score`` compares, from ``run``'s result."""
        raise NotImplementedError

    @classmethod
    def read_prediction(cls, pred_root: Path, key: str) -> Any | None:
        """The prediction of sample ``key`` from files (what ``write`` or another model wrote), or None."""
        raise NotImplementedError

    @classmethod
    def candidates(cls, sample: dict, baselines: tuple[str, ...], **options) -> dict[str, Any]:
        """Rows of the report before the model's: ``ground truth`` and the ``baselines`` asked for."""
        raise NotImplementedError

    @classmethod
    def score(cls, prediction, truth: dict) -> dict:
        """Scores of one prediction against ``truth`` (shard members, cut like the prediction)."""
        raise NotImplementedError

    @classmethod
    def summarise(cls, rows: list[dict]) -> dict:
        """The scores of many clips (validation logs them as ``val/<score>``)."""
        from training.evaluation.scores import mean_scores

        return mean_scores(rows)

    @classmethod
    def report_row(cls, rows: list[dict]) -> dict:
        """A row of the evaluation report over many clips."""
        return cls.summarise(rows)


def check_task(cls: type) -> type:
    """Raise TypeError (one line) unless ``cls`` declares the Task protocol; returns ``cls``."""
    if not (isinstance(cls, type) and issubclass(cls, Task)):
        raise TypeError(f"{cls!r} is not a Task subclass")
    for attr, kind in DECLARED.items():
        value = getattr(cls, attr, None)
        if not isinstance(value, kind):
            raise TypeError(f"task {cls.__name__}: {attr} must be a {kind.__name__}, got {value!r}")
    for attr in ("members", "latent_keys", "pixel_keys", "baselines", "columns"):
        if not all(isinstance(v, str) and v for v in getattr(cls, attr)):
            raise TypeError(f"task {cls.__name__}: {attr} must hold names")
    if not cls.latent_keys or not cls.members or not cls.columns:
        raise TypeError(f"task {cls.__name__}: members, latent_keys and columns cannot be empty")
    if not set(cls.pixel_keys) <= set(cls.latent_keys):
        raise TypeError(f"task {cls.__name__}: pixel_keys {cls.pixel_keys} must be among latent_keys")
    if cls.reads.kind != cls.name:
        raise TypeError(f"task {cls.__name__}: reads.kind is {cls.reads.kind!r}, its name {cls.name!r}")
    for method in METHODS:
        if method not in SHARED and getattr(cls, method) is getattr(Task, method):
            raise TypeError(f"task {cls.__name__}: must define {method}()")
    return cls


def wan_config(model_cfg):
    from training.models.wan import WanConfig

    overrides = dict(model_cfg.overrides or {})
    return WanConfig.preset(str(model_cfg.size), **overrides)


def tokens(latent: torch.Tensor, patch=(1, 2, 2)) -> int:
    """Transformer tokens of a latent batch (B, C, F, H, W)."""
    b, _, f, h, w = latent.shape
    return b * (f // patch[0]) * (h // patch[1]) * (w // patch[2])
