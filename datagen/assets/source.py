"""Open Kubric asset sources: counterfactory's own library, or any Kubric manifest on disk
(for example a local mirror of Google Scanned Objects or KuBasic)."""
from __future__ import annotations

import copy
import difflib
import functools
import json
import os
import weakref
from pathlib import Path

from datagen.kubric_compat import kb

MANIFEST = "manifest.json"


def _not_a_manifest(path: Path, why: str) -> ValueError:
    return ValueError(f"{path} is not a Kubric asset manifest ({why}); expected "
                      '{"name": ..., "assets": {id: {"asset_type": ..., "kwargs": ..., "metadata": ...}}}')


def load_manifest(path: Path) -> dict:
    """A local Kubric manifest's JSON; ValueError (one line naming the path) when it is not one."""
    try:
        data = json.loads(path.read_text())
    except UnicodeDecodeError:
        raise _not_a_manifest(path, "not a text file") from None
    except ValueError as e:
        raise _not_a_manifest(path, f"invalid JSON: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("assets"), dict):
        raise _not_a_manifest(path, "no 'assets' table")
    bad = [k for k, v in data["assets"].items() if not isinstance(v, dict) or "asset_type" not in v]
    if bad:
        raise _not_a_manifest(path, f"entries without 'asset_type', e.g. {bad[0]!r}")
    return data


def open_asset_source(manifest: str | os.PathLike | None = None, *,
                      data_dir: str | os.PathLike | None = None,
                      scratch_dir: str | os.PathLike | None = None) -> "kb.AssetSource":
    """A ``kb.AssetSource`` for ``manifest``; None means counterfactory's built-in library
    (built into the cache on first use).

    ``manifest`` is a Kubric manifest JSON file, or a folder holding ``manifest.json``. Unlike
    Kubric, a relative ``data_dir`` is taken relative to the manifest's folder, not the current
    directory, so a manifest can sit beside (or inside) a mirror and still be moved with it. A
    missing ``data_dir`` means the manifest's own folder, as in Kubric. The ``data_dir`` argument
    overrides the manifest's, e.g. to use Kubric's published GSO.json (which points at
    ``gs://kubric-public``) with a local mirror of its archives. Remote manifests are read by
    Kubric's own loader. Close the source (or use ``with``) to delete the scratch folder Kubric
    unpacks assets into.
    """
    if manifest is None:
        from datagen.assets.builder import default_manifest  # deferred: may build the library
        path = default_manifest()
    else:
        text = os.fspath(manifest)
        if "://" in text:
            source = kb.AssetSource.from_manifest(text, scratch_dir=scratch_dir)
            if data_dir is not None:
                source.data_dir = _data_dir(data_dir)
            return source
        path = Path(text).expanduser()
        if path.is_dir():
            path = path / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"asset manifest not found: {path}")
    data = load_manifest(path)
    if data_dir is None:
        data_dir = data.get("data_dir")
        if data_dir is None:
            data_dir = path.parent
        elif "://" not in str(data_dir):
            data_dir = path.parent / Path(data_dir).expanduser()
    else:
        data_dir = _data_dir(data_dir)
    name = str(data.get("name") or path.stem).replace(os.sep, "_")  # Kubric uses it in a temp name
    return kb.AssetSource(name=name, data_dir=data_dir, assets=data["assets"],
                          scratch_dir=scratch_dir)


@functools.lru_cache(maxsize=8)
def cached_asset_source(manifest: str | None) -> "kb.AssetSource":
    """One open source per manifest per process: a worker makes many samples from one library."""
    return open_asset_source(manifest)


def _data_dir(data_dir: str | os.PathLike):
    """A user-given data_dir: remote URLs as they are, local folders checked."""
    text = os.fspath(data_dir)
    if "://" in text:
        return kb.as_path(text)
    path = Path(text).expanduser().resolve()
    if not path.is_dir():
        raise FileNotFoundError(f"asset data_dir not found: {path}")
    return path


class SceneLibrary:
    """An open Kubric asset source and what the scene samplers read of it: each entry's metadata and bounds,
    the pools of real objects, HDRIs and surfaces, the weights a generator gives them (``mix``: the ``assets``
    section's objects, environments and floors), ``materials`` (keep | random: what real objects that bring
    their own textures wear) and ``manifest_path`` (what a spec's ``assets`` names). The one place outside
    Kubric that reads the source's manifest entries; nothing sets attributes on a Kubric source. A library
    stands wherever a Kubric source is expected (every other attribute is the source's)."""

    def __init__(self, source: "kb.AssetSource", mix: dict | None = None, manifest_path: str | None = None,
                 materials: str = "keep"):
        self.source, self.manifest_path, self.materials = source, manifest_path, materials
        self.mix = {k: dict(v) for k, v in (mix or {}).items()}
        self._pools: dict[tuple, list[str]] = {}
        self._textured: dict[str, bool] = {}

    @classmethod
    def of(cls, source) -> "SceneLibrary | None":
        """``source`` as a library: itself, a plain Kubric source's own (no weights; one per source), or None."""
        if source is None or isinstance(source, SceneLibrary):
            return source
        library = _PLAIN.get(source)
        if library is None:
            library = _PLAIN[source] = cls(source)
        return library

    def __getattr__(self, name):
        if name == "source" or name.startswith("__"):  # not yet set (copying, unpickling)
            raise AttributeError(name)
        return getattr(self.source, name)

    def entry(self, asset_id: str) -> dict:
        """``asset_id``'s manifest entry as the manifest has it ({} for an unknown id); do not modify it."""
        return self.source._assets.get(asset_id) or {}

    def metadata(self, asset_id: str) -> dict:
        return self.entry(asset_id).get("metadata") or {}

    def weights(self, key: str) -> dict[str, float]:
        """The generator's weights ``assets.<key>`` (objects | environments | floors); {} for a plain source."""
        return dict(self.mix.get(key) or {})

    def ids(self, kind: str, role: str | None = None) -> list[str]:
        """Sorted ids of ``kind`` (object | hdri | surface) that are not procedural (and, for objects, can
        play ``role``: small | large | tall | round | any)."""
        key = (kind, role)
        if key not in self._pools:
            self._pools[key] = sorted(a for a, e in self.source._assets.items()
                                      if (md := e.get("metadata") or {}).get("kind", "object") == kind
                                      and md.get("origin", "procedural") != "procedural"
                                      and (role in (None, "any") or role in md.get("roles", ())))
        return self._pools[key]

    def bounds(self, asset_id: str) -> tuple:
        """(lower, upper) corners of the asset's bounding box, in its own frame."""
        return self.source._assets[asset_id]["kwargs"]["bounds"]

    def brings_textures(self, asset_id: str) -> bool:
        """Whether an object's visual OBJ brings an MTL with a texture (``published.obj_textures``), read from
        its archive as Kubric unpacks it; cached. Unknown ids and other file types: False."""
        from datagen.assets.published import obj_textures

        if asset_id not in self._textured:
            source, entry = self.source, self.entry(asset_id)
            render = (entry.get("kwargs") or {}).get("render_filename")
            found = False
            if entry.get("asset_type") == "FileBasedObject" and isinstance(render, str) and render.lower().endswith(".obj"):
                asset_path = source._resolve_asset_path(entry.get("path", ""), asset_id)
                if asset_path is not None or not render.startswith("{asset_dir}"):
                    asset_dir = None if asset_path is None else source.fetch(asset_path, asset_id)
                    found = bool(obj_textures(Path(source._adjust_paths({"obj": render}, asset_dir)["obj"])))
            self._textured[asset_id] = found
        return self._textured[asset_id]


_PLAIN: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # plain sources' libraries (SceneLibrary.of)


def _kubric(source) -> "kb.AssetSource":
    return source.source if isinstance(source, SceneLibrary) else source


def asset_ids(source: "kb.AssetSource", category: str | None = None) -> list[str]:
    """Sorted asset ids of ``source``, optionally only those whose metadata has ``category``."""
    source = _kubric(source)
    if category is None:
        return list(source.all_asset_ids)
    return [a for a in source.all_asset_ids
            if source._assets[a].get("metadata", {}).get("category") == category]


def asset_entry(source: "kb.AssetSource", asset_id: str) -> dict:
    """A deep copy of ``asset_id``'s manifest entry (safe to modify)."""
    source = _kubric(source)
    entry = source._assets.get(asset_id)
    if entry is None:
        close = difflib.get_close_matches(asset_id, source.all_asset_ids, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise KeyError(f"asset {asset_id!r} is not in source {source.name!r} "
                       f"({len(source.all_asset_ids)} assets){hint}")
    return copy.deepcopy(entry)


def create_asset(source: "kb.AssetSource", asset_id: str, add_metadata: bool = True,
                 **kwargs) -> "kb.Asset":
    """``source.create(asset_id, **kwargs)`` without Kubric's side effect.

    Kubric's ``AssetSource.create`` merges the caller's kwargs into the manifest entry's own
    ``kwargs`` dict (``dict.update`` in place), so e.g. a ``name`` or ``scale`` given for one
    object silently becomes the default of every later object of that asset; its metadata dict
    also shares nested lists with the manifest. Here the entry is deep-copied first, then the
    same steps are taken: fetch and unpack the archive, expand ``{asset_dir}``, construct, attach
    metadata. An unknown id raises ``KeyError`` (Kubric fails with a ``TypeError`` when no close
    match exists).
    """
    entry = asset_entry(source, asset_id)
    source = _kubric(source)
    asset_type = source._resolve_asset_type(entry["asset_type"])
    asset_path = source._resolve_asset_path(entry.get("path", ""), asset_id)
    asset_dir = None if asset_path is None else source.fetch(asset_path, asset_id)
    merged = source._adjust_paths({**entry.get("kwargs", {}), **kwargs}, asset_dir)
    if asset_type is kb.FileBasedObject:
        merged["asset_id"] = asset_id
    asset = asset_type(**merged)
    if add_metadata:
        asset.metadata.update(entry.get("metadata", {}))
    return asset
