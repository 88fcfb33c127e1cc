"""Config sections as dataclasses, with one source of default values: the YAML files in
``configs/datagen/``.

A dataclass that mirrors a section has the YAML keys' exact names and no defaults of its own. It is built
from the run's resolved section (``from_section``: a missing or unknown key is a one-line error, so a
renamed key cannot drift silently) or, in library code and tests, from the YAML's own values
(``defaults(**changes)``), so a default is written once, next to its comment in the YAML.
"""
from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any, ClassVar

from datagen.core.paths import REPO_ROOT

CONFIG_DIR = REPO_ROOT / "configs" / "datagen"


class SectionError(ValueError):
    """A config section that does not match its dataclass; the message is one line naming the key."""


@functools.lru_cache(maxsize=16)
def yaml_section(config: str, key: str, root: Path = CONFIG_DIR) -> dict:
    """A section of ``root/<config>.yaml`` as plain values (cached; the YAML file as written, not composed)."""
    from omegaconf import OmegaConf

    path = root / f"{config}.yaml"
    loaded = OmegaConf.load(path)
    node = loaded if key == "" else OmegaConf.select(loaded, key)
    if node is None:
        raise SectionError(f"{path.relative_to(REPO_ROOT)} has no section {key}")
    return OmegaConf.to_container(node, resolve=True)


class Section:
    """Mixin for a dataclass mirroring ``SECTION = (config name, dotted key)`` of a YAML file in
    ``CONFIG_ROOT`` (``configs/datagen/``; the trainers' sections set ``configs/training/``)."""
    SECTION: ClassVar[tuple[str, str]]
    CONFIG_ROOT: ClassVar[Path] = CONFIG_DIR

    @classmethod
    def from_section(cls, section: Any):
        """The dataclass of a resolved section (DictConfig or dict); SectionError names a bad key."""
        if hasattr(section, "items") and not isinstance(section, dict):
            from omegaconf import OmegaConf

            section = OmegaConf.to_container(section, resolve=True)
        names = [f.name for f in dataclasses.fields(cls)]
        key = cls.SECTION[1]
        unknown = sorted(set(section) - set(names))
        if unknown:
            raise SectionError(f"{key}.{unknown[0]} is not an option; {key} has {names}")
        missing = [n for n in names if n not in section]
        if missing:
            where = (cls.CONFIG_ROOT / f"{cls.SECTION[0]}.yaml").relative_to(REPO_ROOT)
            raise SectionError(f"{key}.{missing[0]} is missing (see {where})")
        return cls(**{n: section[n] for n in names})

    @classmethod
    def defaults(cls, **changes):
        """The YAML's default values, with ``changes`` (by field name) on top."""
        config, key = cls.SECTION
        return cls.from_section({**yaml_section(config, key, cls.CONFIG_ROOT), **changes})
