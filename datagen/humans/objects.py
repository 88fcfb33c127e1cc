"""HUMOTO object meshes as a Kubric asset library (built once per set of meshes, cached).

Assets are centred on their centre of mass (as Kubric and PyBullet expect) while HUMOTO poses
place the mesh *as stored*; ``centre_of_mass`` gives the offset, and
``p_asset = p_humoto + R c`` turns one into the other. Physical properties are guessed from the
object's name (furniture is wood, tableware ceramic, boxes light cardboard; documented in
docs/void.md) since HUMOTO records none.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import trimesh

from datagen.assets import builder, shapes
from datagen.core.paths import cache_dir

# (keywords, category, material preset, effective density kg/m^3)
KINDS = (
    (("table", "desk", "chair", "stool", "sofa", "couch", "shelf", "cabinet", "bed", "bench", "drawer",
      "cupboard", "wardrobe", "dresser", "counter", "armchair", "bookshelf", "bookcase", "nightstand"),
     "furniture", "wood", 500.0),
    (("mug", "cup", "plate", "bowl", "vase", "teapot", "pot"), "tableware", "ceramic", 2000.0),
    (("glass", "bottle", "jar"), "tableware", "glass", 1500.0),
    (("box", "carton", "package", "cardboard"), "container", "wood", 150.0),
    (("pan", "knife", "spoon", "fork", "laptop", "phone", "lamp"), "household", "metal", 1500.0),
)
DEFAULT_KIND = ("object", "plastic", 600.0)
FURNITURE = "furniture"


def kind(name: str) -> tuple[str, str, float]:
    """(category, material preset, density) for an object name, by its words ("coffee_table",
    "mug_2", "Cardboard Boxes"; "tablet" is not a table)."""
    import re
    tokens = {t for t in re.split(r"[^a-z]+", name.lower()) if t}
    tokens |= {t[:-1] for t in tokens if t.endswith("s")} | {t[:-2] for t in tokens if t.endswith("es")}
    for words, category, material, density in KINDS:
        if tokens & set(words):
            return category, material, density
    return DEFAULT_KIND


def load_mesh(path: str | Path) -> trimesh.Trimesh:
    mesh = trimesh.load(str(path), force="mesh", process=True)
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise ValueError(f"{path}: no triangle mesh in the file")
    if not mesh.is_watertight:
        trimesh.repair.fill_holes(mesh)
        trimesh.repair.fix_normals(mesh)
    if not mesh.is_watertight or mesh.body_count != 1:
        raise ValueError(f"{path}: the mesh is not one closed surface (watertight: {mesh.is_watertight}, "
                         f"bodies: {mesh.body_count}); physics needs a closed mesh")
    if mesh.volume < 0:
        mesh.invert()
    return mesh


def centre_of_mass(path: str | Path) -> np.ndarray:
    return np.asarray(load_mesh(path).center_mass, dtype=np.float64)


def object_library(meshes: dict[str, Path]) -> Path:
    """Manifest of a Kubric asset library holding ``meshes`` (asset id = object name)."""
    h = hashlib.sha256(builder.recipe_key().encode() + Path(__file__).read_bytes())  # + kinds, mesh repair
    for name in sorted(meshes):
        h.update(name.encode() + b"\0" + Path(meshes[name]).read_bytes())
    out = cache_dir("humoto_assets") / h.hexdigest()[:16]
    manifest = out / builder.MANIFEST
    if manifest.is_file():
        return manifest
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        assets = {}
        for name in sorted(meshes):
            category, material, density = kind(name)
            path = meshes[name]
            recipe = shapes.Recipe(asset_id=name, build=lambda p=path: load_mesh(p), category=category,
                                   material=material, density=density,
                                   description=f"HUMOTO object {name}", collision="auto")
            entry, archive = builder.build_asset(recipe)
            (tmp / f"{name}.tar.gz").write_bytes(archive)
            assets[name] = entry
        (tmp / builder.MANIFEST).write_text(json.dumps({"name": "humoto_objects", "assets": assets},
                                                       sort_keys=True, indent=1))
        os.chmod(tmp, 0o755)
        try:
            os.rename(tmp, out)
        except OSError:  # built concurrently by another worker: keep theirs
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest
