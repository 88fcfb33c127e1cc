"""counterfactory's offline asset library: procedural objects in Kubric's asset format.

``open_asset_source()`` gives a ``kb.AssetSource`` over the built-in library (built once into
the cache) or over any Kubric manifest on disk; ``create_asset`` makes objects from it without
Kubric's manifest-mutating ``create``. See docs/assets.md.
"""
from datagen.assets.builder import build_library, default_manifest, recipe_key
from datagen.assets.shapes import ASSET_IDS, RECIPES
from datagen.assets.source import asset_entry, asset_ids, create_asset, open_asset_source

__all__ = [
    "ASSET_IDS",
    "RECIPES",
    "asset_entry",
    "asset_ids",
    "build_library",
    "create_asset",
    "default_manifest",
    "open_asset_source",
    "recipe_key",
]
