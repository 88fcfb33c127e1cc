"""Sweet Home 3D furniture libraries (``.sh3f``, e.g. Debian's ``sweethome3d-furniture``) as textured
Kubric assets.

An ``.sh3f`` is a zip: ``PluginFurnitureCatalog.properties`` (a Java properties file: ``key#N=value`` per
model — name, category, real width/depth/height in cm, creator, an optional ``modelRotation``), one
``LICENSE.TXT`` and per model an OBJ with its MTL and texture images. Models are Y up in arbitrary units;
Sweet Home 3D rotates them by ``modelRotation`` and then stretches their bounding box to the catalogue
size. ``convert`` does the same, turns them Z up in metres, centres them on the centre of mass of their
convex hull and writes Kubric's asset layout: the visual OBJ keeps its MTL and textures (UVs untouched,
normals recomputed by the renderer), the collision shape is the convex hull, the mass is a per-kind
effective density times the hull's volume.
"""
from __future__ import annotations

import json
import math
import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import trimesh

LICENCES = {  # library (sh3f stem) -> SPDX-style licence of every model in it
    "BlendSwap-CC-0": "CC0-1.0",
    "BlendSwap-CC-BY": "CC-BY-3.0",
    "KatorLegaz": "CC-BY-3.0-US",
    "Reallusion": "CC-BY-3.0-US",
    "Scopia": "CC-BY-3.0",
}
# Trademarked or branded designs (names, logos on textures): never used.
TRADEMARKS = ("kitchenaid", "iphone", "ipad", "ibook", "imac", "apple", "peterbilt", "yamaha", "playstation", "ps4",
              "thonet", "coca", "pepsi", "lego", "ikea", "nintendo", "xbox", "sony", "samsung", "harley", "vespa",
              "tetrapak", "osaka", "winchester")
SKIP_CATEGORIES = ("Characters", "Doors and windows", "Staircases", "Vehicles")
# Things that hang on walls or ceilings: they would stand oddly on a floor.
SKIP_WORDS = ("wall", "ceiling", "cctv", "chandelier", "curtain", "blind", "radiator", "pendant", "hanging")
# Effective bulk densities (kg/m^3 of the convex hull): hollow or airy things weigh less than their hull.
DENSITY_WORDS = (("rock", 2200), ("stone", 1800), ("brick", 1600), ("bread", 200), ("cake", 450), ("cupcake", 450),
                 ("teddy", 60), ("plush", 60), ("slipper", 120), ("bootie", 120), ("ball", 80), ("cushion", 60),
                 ("pillow", 60), ("plant", 350), ("cactus", 500), ("orchid", 300), ("flower", 300), ("book", 650),
                 ("bottle", 450), ("glass", 300), ("cup", 350), ("mug", 450), ("bowl", 350), ("vase", 450),
                 ("lamp", 250), ("lantern", 600), ("box", 250), ("basket", 120), ("toy", 300), ("speaker", 500),
                 ("clock", 400), ("pot", 400), ("fan", 250), ("chair", 120), ("table", 150))
DEFAULT_DENSITY = 350.0
DEFAULT_PHYSICS = (0.55, 0.3)  # friction, restitution


class SkipModel(ValueError):
    """A model that cannot become an asset (missing files, broken texture paths, degenerate size)."""


@dataclass
class Model:
    """One catalogue entry."""
    library: str
    index: int
    name: str
    category: str
    model: str  # path of the OBJ inside the zip (no leading slash)
    size_cm: tuple[float, float, float]  # width (x), depth, height
    creator: str = ""
    rotation: np.ndarray | None = None  # 3x3, applied to the OBJ's (Y up) coordinates first
    extra: dict = field(default_factory=dict)

    @property
    def licence(self) -> str:
        return LICENCES.get(self.library, "unknown")

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "_", self.name.lower()).strip("_") or "object"

    @property
    def max_size(self) -> float:
        return max(self.size_cm) / 100


def _unescape(value: str) -> str:
    return re.sub(r"\\u([0-9a-fA-F]{4})|\\(.)", lambda m: chr(int(m.group(1), 16)) if m.group(1) else m.group(2), value)


def read_properties(text: str) -> dict[str, str]:
    """A Java ``.properties`` file (comments, ``key=value`` or ``key:value``, continuation lines, escapes)."""
    out, pending = {}, ""
    for raw in text.splitlines():
        line = pending + raw.lstrip() if pending else raw.strip()
        pending = ""
        if not line or line[0] in "#!":
            continue
        if line.endswith("\\") and not line.endswith("\\\\"):
            pending = line[:-1]
            continue
        m = re.match(r"((?:[^=:\\\s]|\\.)+)\s*[=:]?\s*(.*)$", line)
        if m:
            out[_unescape(m.group(1))] = _unescape(m.group(2))
    return out


def read_catalogue(path: str | Path) -> list[Model]:
    """Every model of one ``.sh3f`` library, in catalogue order."""
    path = Path(path)
    with zipfile.ZipFile(path) as z:
        props = read_properties(z.read("PluginFurnitureCatalog.properties").decode("latin-1"))
    indices = sorted({int(k.split("#")[1]) for k in props if k.startswith("model#")})
    models = []
    for n in indices:
        get = lambda key, default="": props.get(f"{key}#{n}", default)  # noqa: E731
        rot = get("modelRotation")
        try:
            size = (float(get("width")), float(get("depth")), float(get("height")))
        except ValueError:
            continue
        models.append(Model(
            library=path.stem, index=n, name=get("name", f"model {n}"), category=get("category"),
            model=get("model").lstrip("/"), size_cm=size, creator=get("creator"),
            rotation=np.array([float(v) for v in rot.split()], float).reshape(3, 3) if rot else None,
            extra={k: get(k) for k in ("doorOrWindow", "staircaseCutOutShape", "movable", "tags") if get(k)}))
    return models


def usable(m: Model, max_size: float = 1.3, min_size: float = 0.03) -> str | None:
    """Why a model is left out (None: usable): doors, windows, stairs, people and vehicles, trademarks,
    sizes outside [min_size, max_size] metres, fixed (non-movable) items."""
    text = f"{m.name} {m.model}".lower()
    if m.category in SKIP_CATEGORIES or m.extra.get("doorOrWindow") == "true" or "staircaseCutOutShape" in m.extra:
        return f"category {m.category or 'door/window/staircase'}"
    hit = next((t for t in TRADEMARKS if t in text), None)
    if hit:
        return f"trademark ({hit})"
    hung = next((t for t in SKIP_WORDS if t in m.name.lower()), None)
    if hung:
        return f"mounted ({hung})"
    if m.max_size > max_size or min(m.size_cm) / 100 < min_size:
        return f"size {'x'.join(f'{s:g}' for s in m.size_cm)} cm"
    if m.extra.get("movable") == "false":
        return "not movable"
    return None


def density(m: Model) -> float:
    return density_of(m.name)


def density_of(text: str) -> float:
    """Effective density (kg/m^3) of a thing named ``text``: the first of DENSITY_WORDS it contains."""
    text = text.lower()
    return next((d for word, d in DENSITY_WORDS if word in text), DEFAULT_DENSITY)


# -- OBJ / MTL rewriting ------------------------------------------------------------------------------

def _texture_refs(mtl: str) -> list[tuple[int, str]]:
    """(line index, file name) of every map statement of an MTL (the file name is its last token)."""
    refs = []
    for i, line in enumerate(mtl.splitlines()):
        parts = line.split()
        if parts and (parts[0].lower().startswith("map_") or parts[0].lower() in ("bump", "disp", "decal", "refl")):
            if len(parts) >= 2:
                refs.append((i, parts[-1]))
    return refs


def _member(z: zipfile.ZipFile, base: str, name: str) -> str | None:
    """The zip member ``name`` refers to from folder ``base`` (None if absent or outside the zip)."""
    if re.match(r"^[A-Za-z]:|^/|\\", name):
        return None
    full = posixpath.normpath(posixpath.join(base, name))
    return full if full in set(z.namelist()) and not full.startswith("..") else None


def _transform(m: Model, vertices: np.ndarray) -> np.ndarray:
    """OBJ coordinates (Y up, any unit) -> metres, Z up, the catalogue size, bottom on z = 0, centred in x, y."""
    v = vertices if m.rotation is None else vertices @ m.rotation.T
    lo, hi = v.min(0), v.max(0)
    ext = np.where(hi - lo > 1e-9, hi - lo, 1.0)
    w, d, h = (s / 100 for s in m.size_cm)
    # Sweet Home 3D: x = width, y (up) = height, z = depth; ours: x = width, y = -depth, z = height
    unit = (v - (lo + hi) / 2) / ext  # each axis in [-0.5, 0.5]
    out = np.stack([unit[:, 0] * w, -unit[:, 2] * d, unit[:, 1] * h + h / 2], axis=1)
    return out


def convert(sh3f: str | Path, m: Model) -> tuple[dict, dict[str, bytes], trimesh.Trimesh]:
    """(metadata, files of the asset, convex hull in asset coordinates) for one model. The OBJ keeps its
    groups, materials and UVs; vertices are transformed and shifted so the hull's centre of mass is the
    origin. Raises SkipModel for models whose files are incomplete."""
    with zipfile.ZipFile(sh3f) as z:
        try:
            obj = z.read(m.model).decode("latin-1")
        except KeyError:
            raise SkipModel(f"{m.model}: not in {Path(sh3f).name}") from None
        base = posixpath.dirname(m.model)
        lines = obj.splitlines()
        verts = np.array([[float(t) for t in ln.split()[1:4]] for ln in lines if ln.startswith("v ")], float)
        if len(verts) < 4:
            raise SkipModel(f"{m.model}: fewer than 4 vertices")
        files: dict[str, bytes] = {}
        mtl_out = []
        textures: dict[str, str] = {}
        for ln in lines:
            if ln.startswith("mtllib"):
                for name in ln.split(None, 1)[1].split():
                    member = _member(z, base, name)
                    if member is None:
                        raise SkipModel(f"{m.model}: material library {name!r} missing")
                    mtl = z.read(member).decode("latin-1")
                    mtl_lines = mtl.splitlines()
                    for i, ref in _texture_refs(mtl):
                        tex = _member(z, posixpath.dirname(member), ref)
                        if tex is None:
                            raise SkipModel(f"{m.model}: texture {ref!r} missing")
                        local = textures.setdefault(tex, f"tex_{len(textures):02d}{posixpath.splitext(tex)[1].lower()}")
                        parts = mtl_lines[i].rsplit(ref, 1)
                        mtl_lines[i] = parts[0] + local + parts[1]
                    mtl_out += mtl_lines
        for member, local in textures.items():
            files[local] = z.read(member)
    world = _transform(m, verts)
    if (world.max(0) - world.min(0)).min() < 1e-3:
        raise SkipModel(f"{m.model}: flat")
    hull = trimesh.convex.convex_hull(np.round(world, 6))
    hull.density = density(m)
    com = np.asarray(hull.center_mass)
    world = world - com
    hull.apply_translation(-com)
    out, k = [f"# counterfactory: {m.library} / {m.name} ({m.licence}, by {m.creator or 'unknown'})", "mtllib material.mtl"], 0
    for ln in lines:
        if ln.startswith("v "):
            x, y, zz = world[k]
            out.append(f"v {x:.6f} {y:.6f} {zz:.6f}")
            k += 1
        elif ln.startswith(("vn ", "mtllib", "#")) or not ln.strip():
            continue
        elif ln.startswith("f "):
            out.append("f " + " ".join(_drop_normal(t) for t in ln.split()[1:]))
        else:
            out.append(ln)
    files["visual_geometry.obj"] = ("\n".join(out) + "\n").encode()
    files["material.mtl"] = ("\n".join(mtl_out) + "\n").encode("latin-1", "replace")
    meta = {"name": m.name, "category": m.category, "library": m.library, "creator": m.creator,
            "licence": m.licence, "textured": bool(textures), "density": density(m)}
    return meta, files, hull


def _drop_normal(token: str) -> str:
    """``v/vt/vn`` -> ``v/vt``, ``v//vn`` -> ``v``: normals are recomputed after the non-uniform scaling."""
    parts = token.split("/")
    return parts[0] if len(parts) < 2 or not parts[1] else f"{parts[0]}/{parts[1]}"


def catalogue_files(root: str | Path) -> list[Path]:
    """The ``.sh3f`` libraries under ``root`` (a folder of them, or the folder the fetch script made)."""
    root = Path(root)
    return sorted(p for p in (root.rglob("*.sh3f") if root.is_dir() else [root]) if p.suffix == ".sh3f")


def models_json(models: list[Model]) -> str:
    return json.dumps([{"library": m.library, "name": m.name, "category": m.category, "size_cm": m.size_cm,
                        "licence": m.licence} for m in models], indent=1)


def hull_sphericity(hull: trimesh.Trimesh) -> float:
    """Hull volume over the volume of the sphere with the hull's mean extent as diameter (1 for a ball)."""
    d = float(np.mean(hull.extents))
    return float(hull.volume) / (math.pi / 6 * d ** 3) if d > 0 else 0.0
