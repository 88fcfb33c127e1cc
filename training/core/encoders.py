"""The frozen encoders the trainers need: the Wan2.1 VAE (diffusers ``AutoencoderKLWan``) and a UMT5
text encoder, loaded from local directories only. ``model.size=tiny`` may run without them: a small
random VAE and text encoder (with a byte-level tokenizer that needs no vocabulary file) are built from a
fixed seed, for tests and CPU smoke runs — never for real training.
"""
from __future__ import annotations

import html
import logging
import re
from pathlib import Path

import torch

log = logging.getLogger(__name__)

# The tiny stand-ins' sizes; TINY_TEXT_DIM must equal WanConfig.preset("tiny").text_dim.
TINY_VAE = dict(base_dim=16, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                temperal_downsample=[False, True, True])
TINY_TEXT = dict(vocab_size=384, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
                 relative_attention_num_buckets=8)


def prompt_clean(text: str) -> str:
    """What Wan's pipelines do to a prompt before tokenising it: HTML entities unescaped (twice),
    whitespace runs collapsed (ftfy's text repair too, when it is installed)."""
    try:
        import ftfy

        text = ftfy.fix_text(text)
    except ImportError:
        pass
    return re.sub(r"\s+", " ", html.unescape(html.unescape(text)).strip()).strip()


class EncoderError(ValueError):
    """A missing or unusable encoder; the message is one line naming the config key."""


def _local_dir(path: str | None, key: str) -> Path:
    p = Path(str(path)).expanduser()
    if not p.is_dir():
        raise EncoderError(f"{key}={path}: no such directory (weights are read from local paths only)")
    return p


class VideoVAE:
    """Encode uint8-range clips to normalised Wan latents: ``(z - latents_mean) / latents_std``.

    The posterior mean is used (not a sample), so a clip always maps to the same latent; this makes
    training reproducible and lets ``training/precompute.py`` cache latents exactly."""

    def __init__(self, vae, device: torch.device, dtype: torch.dtype):
        self.vae = vae.to(device=device, dtype=dtype).eval().requires_grad_(False)
        self.device, self.dtype = device, dtype
        cfg = vae.config
        self.mean = torch.tensor(cfg.latents_mean, device=device, dtype=torch.float32).view(1, -1, 1, 1, 1)
        self.std = torch.tensor(cfg.latents_std, device=device, dtype=torch.float32).view(1, -1, 1, 1, 1)
        self.z_dim = int(cfg.z_dim)

    @torch.no_grad()
    def encode(self, video: torch.Tensor) -> torch.Tensor:
        """``video`` float in [-1, 1], (B, 3, T, H, W) with T = 4k+1 -> (B, z, k+1, H/8, W/8) float32."""
        z = self.vae.encode(video.to(self.device, self.dtype)).latent_dist.mean.float()
        return (z - self.mean) / self.std

    @torch.no_grad()
    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """Normalised latents (B, z, F, h, w) -> video float in [-1, 1], (B, 3, 4(F-1)+1, 8h, 8w), float32.
        Un-normalised as Wan's pipelines do (``latent / (1 / std) + mean``, the same float ops)."""
        z = latent.to(self.device, torch.float32) / (1.0 / self.std) + self.mean
        return self.vae.decode(z.to(self.dtype), return_dict=False)[0].float().clamp(-1, 1)


def load_vae(cfg, size: str, device: torch.device, dtype: torch.dtype) -> VideoVAE:
    """The Wan VAE from ``vae.path`` (a diffusers ``AutoencoderKLWan`` directory); a random tiny one
    only when ``model.size=tiny`` and no path is given."""
    from diffusers import AutoencoderKLWan

    if cfg.path:
        path = _local_dir(cfg.path, "vae.path")
        try:
            vae = AutoencoderKLWan.from_pretrained(str(path), local_files_only=True)
        except (OSError, ValueError) as e:
            raise EncoderError(f"vae.path={cfg.path}: not a diffusers AutoencoderKLWan directory ({e})".split("\n")[0]) from None
    elif size == "tiny":
        log.warning("vae.path is not set: using a random tiny VAE (tests and smoke runs only)")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            vae = AutoencoderKLWan(**TINY_VAE)
    else:
        raise EncoderError(f"vae.path= is required for model.size={size} (a Wan2.1 VAE directory, diffusers layout)")
    return VideoVAE(vae, device, dtype)


class TextEncoder:
    """Prompts -> (B, max_length, dim) embeddings, zero beyond each prompt's tokens (as Wan2.1 does)."""

    def __init__(self, tokenizer, encoder, max_length: int, device: torch.device, dtype: torch.dtype):
        self.tokenizer, self.max_length = tokenizer, int(max_length)
        self.encoder = encoder.to(device=device, dtype=dtype).eval().requires_grad_(False)
        self.device = device
        self.dim = int(encoder.config.d_model)

    @torch.no_grad()
    def encode(self, prompts: list[str]) -> torch.Tensor:
        tok = self.tokenizer([prompt_clean(p) for p in prompts], padding="max_length", max_length=self.max_length,
                             truncation=True,
                             add_special_tokens=True, return_tensors="pt")
        ids, mask = tok.input_ids.to(self.device), tok.attention_mask.to(self.device)
        hidden = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state.float()
        return hidden * mask.unsqueeze(-1).float()


def load_text_encoder(cfg, size: str, text_dim: int, device: torch.device, dtype: torch.dtype) -> TextEncoder:
    """UMT5 from ``text.path`` (+ tokenizer from ``text.tokenizer_path`` or the same directory); a random
    tiny UMT5 with a byte-level tokenizer only when ``model.size=tiny`` and no path is given."""
    from transformers import AutoTokenizer, ByT5Tokenizer, UMT5Config, UMT5EncoderModel

    if cfg.path:
        path = _local_dir(cfg.path, "text.path")
        tok_path = _local_dir(cfg.tokenizer_path or cfg.path, "text.tokenizer_path")
        try:
            encoder = UMT5EncoderModel.from_pretrained(str(path), local_files_only=True)
            tokenizer = AutoTokenizer.from_pretrained(str(tok_path), local_files_only=True)
        except (OSError, ValueError) as e:
            raise EncoderError(f"text.path={cfg.path}: cannot load a UMT5 encoder and tokenizer ({e})".split("\n")[0]) from None
        if encoder.config.d_model != text_dim:
            raise EncoderError(f"text.path={cfg.path}: d_model {encoder.config.d_model} != the model's text_dim {text_dim}")
    elif size == "tiny":
        log.warning("text.path is not set: using a random tiny UMT5 (tests and smoke runs only)")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(1)
            encoder = UMT5EncoderModel(UMT5Config(d_model=text_dim, **TINY_TEXT))
        tokenizer = ByT5Tokenizer()
    else:
        raise EncoderError(f"text.path= is required for model.size={size} (a UMT5 encoder directory with its tokenizer)")
    return TextEncoder(tokenizer, encoder, cfg.max_length, device, dtype)
