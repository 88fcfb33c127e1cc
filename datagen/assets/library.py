"""The scene library: what scenes are made of, from every source installed here, as Kubric manifests.

    python -m datagen.assets build [--sources DIR] [--licences any|cc0]

Sources (``scripts/fetch_assets.sh`` puts the registry ones under ``$COUNTERFACTORY_CACHE/sources``):

  objects   procedural  counterfactory's 18 generated objects (Apache-2.0)
            sweethome3d Debian sweethome3d-furniture: textured OBJ models (CC0-1.0, CC-BY-3.0)
            a manifest  any Kubric-format object manifest (GSO, KuBasic mirrors; ``assets.library=PATH``)
  hdris     bpy         the 8 Poly Haven maps inside the bpy wheel (CC0-1.0)
            yours       a folder of .hdr/.exr maps or Kubric HDRI_haven archives, or an HDRI_haven
                        manifest (``assets.hdris=PATH``), in place of the installed maps
            pmndrs      18 Poly Haven maps of npm @pmndrs/assets (CC0-1.0)
            maniskill   Poly Haven's 4K autumn_field_puresky, from the mani-skill wheel (CC0-1.0)
  surfaces  maniskill   Poly Haven floor_tiles_06 (diffuse, CC0-1.0)

Each source is converted once into a folder of Kubric asset archives with its own ``manifest.json``
(cached by the source files and this code); ``scene_manifest`` then joins the procedural library and
every built source into one manifest (archives by absolute path, optionally only CC0 ones), which is
what a scene's ``assets`` names. Entries carry ``metadata.kind`` (object | hdri | surface),
``metadata.origin``, ``license`` and, for objects, ``metadata.roles`` (small, large, tall, round).
Objects of a manifest we did not make (GSO, KuBasic) are read as their producer wrote them
(``published.adopt_object``: licence naming, mass from our densities, the caption's noun).

An HDRI asset holds ``environment.exr`` (lights the scene: the sun's bright lobe taken out and replaced
by a sun lamp of the same irradiance, direction and size, so shadows are sharp and agree with the
map), ``backdrop.exr`` (what the camera sees: the full map, blurred where it is too coarse for the
camera) and the sun in its metadata.
"""
from __future__ import annotations

import functools
import glob
import hashlib
import json
import math
import os
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from datagen.assets import builder, hdri, published, sweethome
from datagen.core.paths import cache_dir
from datagen.core.sections import Section

LIBRARY_VERSION = 1
KINDS = ("object", "hdri", "surface")
ROLE_SMALL, ROLE_LARGE = 0.4, 1.3  # metres: largest extent of small objects, of large ones
HDRI_LIGHTING_WIDTH = 1024  # the lighting map needs no more (the backdrop keeps the full resolution)


def sources_dir() -> Path:
    return Path(os.environ.get("COUNTERFACTORY_SOURCES") or cache_dir("sources"))


@dataclass
class Report:
    """What one source gave: assets by licence and what was left out, by reason."""
    source: str
    kind: str
    licences: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    manifest: Path | None = None

    @property
    def count(self) -> int:
        return sum(self.licences.values())

    def line(self) -> str:
        lic = ", ".join(f"{n} {k}" for k, n in sorted(self.licences.items())) or "none"
        skip = f"; left out {sum(self.skipped.values())} ({', '.join(f'{n} {k}' for k, n in self.skipped.most_common(4))})" \
            if self.skipped else ""
        return f"{self.source:<12} {self.kind:<8} {self.count:4d}  [{lic}]{skip}"


# -- where the sources are --------------------------------------------------------------------------

def bpy_hdri_files() -> list[Path]:
    import importlib.util

    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        return []
    root = Path(list(spec.submodule_search_locations)[0])
    return sorted(Path(p) for p in glob.glob(str(root / "*" / "datafiles" / "studiolights" / "world" / "*.exr")))


def pmndrs_hdri_files(root: Path) -> list[Path]:
    return sorted((root / "pmndrs" / "package" / "hdri").glob("*.exr.js"))


def maniskill_files(root: Path) -> dict[str, Path]:
    folder = root / "maniskill"
    files = {"sky": folder / "autumn_field_puresky_4k.hdr", "floor": folder / "floor_tiles_06_diff_2k.png"}
    return {k: p for k, p in files.items() if p.is_file()}


def sweethome_files(root: Path) -> list[Path]:
    return sweethome.catalogue_files(root / "sweethome3d") if (root / "sweethome3d").is_dir() else []


# -- objects ----------------------------------------------------------------------------------------

def roles(extents) -> list[str]:
    """Which parts a real object can play in a scene sampler, from its size (metres, x y z)."""
    extents = [float(e) for e in extents]
    big = max(extents)
    out = ["small"] if big <= ROLE_SMALL else ["large"] if big <= ROLE_LARGE else []
    if extents[2] >= 0.15:
        out.append("tall")
    return out


def object_entry(aid: str, meta: dict, files: dict[str, bytes], hull) -> tuple[dict, bytes]:
    """A FileBasedObject manifest entry and its archive for a converted model (``sweethome.convert``)."""
    friction, restitution = sweethome.DEFAULT_PHYSICS
    mass = float(hull.mass)
    inertia = np.array(hull.moment_inertia)
    inertia[np.abs(inertia) < 1e-9 * np.abs(inertia).max()] = 0.0
    verts = np.array([[float(t) for t in ln.split()[1:4]] for ln in files["visual_geometry.obj"].decode().splitlines()
                      if ln.startswith("v ")])
    bounds = builder.nums([verts.min(0), verts.max(0)])
    extents = verts.max(0) - verts.min(0)
    rl = roles(extents)
    if sweethome.hull_sphericity(hull) > 0.85 and max(extents) / max(min(extents), 1e-6) < 1.2:
        rl.append("round")
    entry = {
        "id": aid, "asset_type": "FileBasedObject", "license": meta["licence"],
        "kwargs": {"bounds": bounds, "mass": builder.num(mass), "friction": friction, "restitution": restitution,
                   "render_filename": "{asset_dir}/visual_geometry.obj",
                   "render_import_kwargs": {"axis_forward": "Y", "axis_up": "Z"},
                   "simulation_filename": "{asset_dir}/object.urdf"},
        "metadata": {"kind": "object", "origin": "sweethome3d", "category": meta["category"],
                     "description": meta["name"], "name": meta["name"], "library": meta["library"],
                     "creator": meta["creator"], "licence": meta["licence"], "textured": meta["textured"],
                     "keep_materials": True, "roles": rl, "density": meta["density"], "mass": builder.num(mass),
                     "nominal_size": builder.nums(extents, 4), "collision_method": "hull", "collision_parts": 1},
    }
    data = {**entry, "paths": {"visual_geometry": "visual_geometry.obj", "collision_geometry": "collision_geometry.obj",
                               "urdf": "object.urdf"}}
    archive = builder.targz_bytes({**files, "data.json": builder.json_bytes(data),
                                   "collision_geometry.obj": builder.collision_text([hull]).encode(),
                                   "object.urdf": builder.urdf_text(aid, mass, inertia, friction,
                                                                                  "collision_geometry.obj").encode()})
    return entry, archive


def build_sweethome(out: Path, files: list[Path], progress=None) -> Report:
    from datagen.assets.shapes import RECIPES

    report = Report("sweethome3d", "object")
    assets, taken = {}, set(RECIPES)  # ids are readable names; a repeated name gets _2, _3, ...
    models = [(f, m) for f in files for m in sweethome.read_catalogue(f)]
    for f, m in models:
        if progress:
            progress(m.name)
        why = sweethome.usable(m)
        if why:
            report.skipped["not movable" if why == "not movable" else why.split(" ")[0]] += 1
            continue
        try:
            meta, parts, hull = sweethome.convert(f, m)
        except sweethome.SkipModel:
            report.skipped["incomplete files"] += 1
            continue
        aid, n = m.slug, 1
        while aid in taken:
            n += 1
            aid = f"{m.slug}_{n}"
        taken.add(aid)
        entry, archive = object_entry(aid, meta, parts, hull)
        (out / f"{aid}.tar.gz").write_bytes(archive)
        assets[aid] = entry
        report.licences[meta["licence"]] += 1
    _write_manifest(out, "sweethome3d", assets)
    return report


# -- HDRIs and surfaces -----------------------------------------------------------------------------

def extract_sun(rgb: np.ndarray, cone_degrees: float = 15.0, level: float = 20.0) -> tuple[np.ndarray, dict]:
    """The map without its sun, and the sun: inside a cone around the brightest direction, radiance above
    ``level`` times the map's median luminance is cut to that threshold; what was cut, integrated over
    solid angle, is the sun lamp's irradiance (linear RGB, W/m^2 per unit of map radiance); its angular
    size is the cone holding the cut pixels."""
    h, w, _ = rgb.shape
    info = hdri.analyse(rgb)
    d = np.array(info["sun_direction"])
    lum = rgb.astype(np.float64) @ hdri.LUMA
    threshold = level * max(float(np.median(lum)), 1e-6)
    el = (0.5 - (np.arange(h) + 0.5) / h) * math.pi
    az = (0.5 - (np.arange(w) + 0.5) / w) * 2 * math.pi
    cos_angle = (np.cos(el)[:, None] * np.cos(az)[None] * d[0] + np.cos(el)[:, None] * np.sin(az)[None] * d[1]
                 + np.sin(el)[:, None] * d[2])
    cut = (cos_angle > math.cos(math.radians(cone_degrees))) & (lum > threshold)
    scale = np.where(cut, threshold / np.maximum(lum, 1e-12), 1.0)
    out = (rgb * scale[..., None]).astype(np.float32)
    removed = (rgb.astype(np.float64) - out) * (np.cos(el) * (math.pi / h) * (2 * math.pi / w))[:, None, None]
    irradiance = removed.reshape(-1, 3).sum(0)
    radius = math.degrees(math.acos(float(np.clip(cos_angle[cut].min(), -1, 1)))) if cut.any() else 0.0
    sun = {"direction": info["sun_direction"], "elevation": info["sun_elevation"], "share": info["sun_share"],
           "irradiance_rgb": [round(float(v), 6) for v in irradiance], "angle_degrees": round(max(0.5, 2 * radius), 3),
           "mean_radiance": info["mean_radiance"]}
    return out, sun


def _downsample(rgb: np.ndarray, width: int) -> np.ndarray:
    h, w, _ = rgb.shape
    f = w // width
    if f <= 1:
        return rgb
    return rgb[: h // f * f, : w // f * f].reshape(h // f, f, w // f, f, 3).mean(axis=(1, 3)).astype(np.float32)


def hdri_files(rgb: np.ndarray) -> tuple[dict[str, bytes], dict]:
    """(``environment.exr``, ``backdrop.exr``) and the metadata of one map."""
    lighting, sun = extract_sun(rgb)
    lighting = _downsample(lighting, HDRI_LIGHTING_WIDTH)
    blur = hdri.backdrop_blur(rgb.shape[1])
    with tempfile.TemporaryDirectory(prefix="cf-hdri-") as tmp:
        hdri.write_exr(Path(tmp) / "environment.exr", lighting)
        hdri.write_exr(Path(tmp) / "backdrop.exr", hdri.blur(rgb, blur) if blur else rgb)
        files = {n: (Path(tmp) / n).read_bytes() for n in ("environment.exr", "backdrop.exr")}
    meta = {"sun": sun, "resolution": [int(rgb.shape[1]), int(rgb.shape[0])], "backdrop_blur_px": round(blur, 3)}
    return files, meta


def _hdri_asset(out: Path, aid: str, origin: str, name: str, rgb: np.ndarray, licence: str, source_file: str,
                **extra) -> dict:
    """Write one map's archive into ``out``; its manifest entry."""
    parts, meta = hdri_files(rgb)
    entry = {"id": aid, "asset_type": "Texture", "license": licence,
             "kwargs": {"filename": "{asset_dir}/environment.exr"},
             "metadata": {"kind": "hdri", "origin": origin, "name": name, "licence": licence,
                          "source_file": source_file, "backdrop": "backdrop.exr", **extra, **meta}}
    (out / f"{aid}.tar.gz").write_bytes(builder.targz_bytes({**parts, "data.json": builder.json_bytes(entry)}))
    return entry


def build_hdris(out: Path, origin: str, files: list[Path], licence: str = "CC0-1.0") -> Report:
    report = Report(origin, "hdri")
    assets = {}
    for path in files:
        name = path.name.split(".")[0]
        try:
            rgb = hdri.read_image(path)
        except Exception:  # a damaged file is one fewer map, not a failed build
            report.skipped["unreadable"] += 1
            continue
        aid = f"hdri_{origin}_{name}"
        assets[aid] = _hdri_asset(out, aid, origin, name, rgb, licence, path.name)
        report.licences[licence] += 1
    _write_manifest(out, origin, assets)
    return report


USER_HDRIS = "user"  # origin (and id infix) of the maps of ``assets.hdris``
HDRI_SUFFIXES = (".hdr", ".exr")


def user_hdri_inputs(path: str | os.PathLike) -> list[tuple[Path, dict | None]]:
    """(file, Kubric manifest entry or None) of every map ``assets.hdris`` names: a folder's ``.hdr``/``.exr``
    files and Kubric HDRI archives (``<id>.tar.gz``, their ``data.json`` the entry), or the ``Texture``
    entries of a Kubric HDRI manifest (``HDRI_haven.json``; archives in its ``data_dir``, read relative to
    the manifest's folder as everywhere here)."""
    from datagen.assets.source import load_manifest

    path = Path(path).expanduser()
    if path.is_dir():
        return [(p, None) for p in sorted(path.iterdir())
                if p.is_file() and (p.suffix.lower() in HDRI_SUFFIXES or p.name.endswith(".tar.gz"))]
    if not path.is_file():
        raise FileNotFoundError(f"assets.hdris: no such folder or manifest: {path}")
    data = load_manifest(path)
    where = str(data.get("data_dir") or "")
    if "://" in where:
        raise ValueError(f"assets.hdris: {path.name} keeps its archives at {where}; set assets.hdris to the local "
                         "folder holding its <id>.tar.gz archives")
    base = path.parent / Path(where).expanduser() if where else path.parent
    return [(base / (e.get("path") or f"{aid}.tar.gz"), e) for aid, e in sorted(data["assets"].items())
            if e.get("asset_type") == "Texture"]


def build_user_hdris(out: Path, inputs: list[tuple[Path, dict | None]]) -> Report:
    """The maps of ``assets.hdris`` as scene-library HDRIs (``hdri_user_<name>``). A Kubric entry gives the
    licence (``license``, in our naming) and the creators (``metadata.authors``); a bare file's licence is
    unknown. Unreadable maps and missing archives are left out and counted."""
    report = Report(USER_HDRIS, "hdri")
    assets: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="cf-hdris-") as tmp:
        for path, entry in inputs:
            try:
                if path.name.endswith(".tar.gz"):
                    found = published.hdri_archive(path)
                    if found is None:
                        report.skipped["not an HDRI archive"] += 1
                        continue
                    inner, filename, blob = found
                    entry = entry or inner
                    image = Path(tmp) / f"map{Path(filename).suffix}"
                    image.write_bytes(blob)
                    name = str(entry.get("id") or path.name[: -len(".tar.gz")])
                else:
                    image, filename, name = path, path.name, path.name.split(".")[0]
                rgb = hdri.read_image(image)
            except FileNotFoundError:
                report.skipped["missing archive"] += 1
                continue
            except Exception:  # a damaged file is one fewer map, not a failed build
                report.skipped["unreadable"] += 1
                continue
            md = (entry or {}).get("metadata") or {}
            licence = published.licence_name(entry.get("license")) if entry else "unknown"
            authors = md.get("authors")
            extra = {"creator": ", ".join(map(str, authors))} if isinstance(authors, list) and authors else {}
            slug = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").lower() or "map"
            aid, n = f"hdri_{USER_HDRIS}_{slug}", 1
            while aid in assets:
                n += 1
                aid = f"hdri_{USER_HDRIS}_{slug}_{n}"
            assets[aid] = _hdri_asset(out, aid, USER_HDRIS, name, rgb, licence, filename, **extra)
            report.licences[licence] += 1
    _write_manifest(out, USER_HDRIS, assets)
    return report


def user_hdris(path: str | os.PathLike) -> Report:
    """The HDRIs of ``assets.hdris``, built once into the cache (keyed by their files and this code)."""
    inputs = user_hdri_inputs(path)
    if not inputs:
        raise ValueError(f"assets.hdris: {path} holds no .hdr/.exr maps, Kubric HDRI archives or Texture entries")
    files = [p for p, _ in inputs if p.is_file()]
    if Path(path).expanduser().is_file():
        files.append(Path(path).expanduser())
    report = _cached_build(USER_HDRIS, files, lambda out: build_user_hdris(out, inputs))
    if report.count == 0:
        raise ValueError(f"assets.hdris: none of the {len(inputs)} maps of {path} could be used "
                         f"({', '.join(f'{n} {k}' for k, n in report.skipped.items())})")
    return report


def build_surfaces(out: Path, files: dict[str, Path]) -> Report:
    report = Report("maniskill", "surface")
    assets = {}
    if "floor" in files:
        from PIL import Image

        import io

        buf = io.BytesIO()
        Image.open(files["floor"]).convert("RGB").save(buf, format="PNG", optimize=False)
        aid = "surface_floor_tiles_06"
        entry = {"id": aid, "asset_type": "Texture", "license": "CC0-1.0",
                 "kwargs": {"filename": "{asset_dir}/albedo.png"},
                 "metadata": {"kind": "surface", "origin": "maniskill", "name": "floor_tiles_06", "use": "floor",
                              "licence": "CC0-1.0", "size_m": 2.0, "roughness": 0.35,
                              "description": "a tiled floor"}}
        (out / f"{aid}.tar.gz").write_bytes(builder.targz_bytes({"albedo.png": buf.getvalue(),
                                                                 "data.json": builder.json_bytes(entry)}))
        assets[aid] = entry
        report.licences["CC0-1.0"] += 1
    _write_manifest(out, "surfaces", assets)
    return report


def _write_manifest(folder: Path, name: str, assets: dict) -> Path:
    manifest = {"name": name, "version": str(LIBRARY_VERSION), "generator": builder.GENERATOR, "assets": assets}
    path = folder / builder.MANIFEST
    path.write_bytes(builder.json_bytes(manifest))
    return path


# -- building, cached ---------------------------------------------------------------------------------

def _code_key() -> bytes:
    files = (hdri.__file__, sweethome.__file__, __file__, published.__file__)
    return b"".join(Path(f).read_bytes() for f in files) + f"v{LIBRARY_VERSION}".encode()


def _files_key(files) -> str:
    h = hashlib.sha256(_code_key())
    for p in files:
        st = Path(p).stat()
        h.update(f"{Path(p).name}:{st.st_size}".encode())
        h.update(hashlib.sha256(Path(p).read_bytes()[: 1 << 20]).digest())
    return h.hexdigest()[:16]


def _cached_build(name: str, files, build) -> Report | None:
    """Build one source into ``cache/library/<name>-<key>`` unless done; None when it has no files."""
    files = list(files.values()) if isinstance(files, dict) else list(files)
    if not files:
        return None
    out = cache_dir("library") / f"{name}-{_files_key(files)}"
    manifest = out / builder.MANIFEST
    if not manifest.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        with builder.dir_lock(out.parent):
            if not manifest.is_file():
                tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
                try:
                    report = build(tmp)
                    os.chmod(tmp, 0o755)
                    os.rename(tmp, out)
                    (out / "report.json").write_text(json.dumps(
                        {"licences": report.licences, "skipped": report.skipped}, sort_keys=True))
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
    saved = json.loads((out / "report.json").read_text()) if (out / "report.json").is_file() else {}
    data = json.loads(manifest.read_text())
    kind = next((e["metadata"]["kind"] for e in data["assets"].values()), "object")
    return Report(name, kind, Counter(saved.get("licences", {})), Counter(saved.get("skipped", {})), manifest)


def build_sources(root: Path | None = None, progress=None) -> list[Report]:
    """Build every installed source (cached); one report per source that has files."""
    root = Path(root) if root else sources_dir()
    ms = maniskill_files(root)
    jobs = [("sweethome3d", sweethome_files(root), lambda out, f=sweethome_files(root): build_sweethome(out, f, progress)),
            ("bpy", bpy_hdri_files(), lambda out: build_hdris(out, "bpy", bpy_hdri_files())),
            ("pmndrs", pmndrs_hdri_files(root), lambda out: build_hdris(out, "pmndrs", pmndrs_hdri_files(root))),
            ("maniskill", {k: v for k, v in ms.items() if k == "sky"},
             lambda out: build_hdris(out, "maniskill", [ms["sky"]])),
            ("surfaces", {k: v for k, v in ms.items() if k == "floor"}, lambda out: build_surfaces(out, ms))]
    return [r for name, files, build in jobs if (r := _cached_build(name, files, build)) is not None]


def scene_manifest(objects: str | None = None, licences: str = "any", root: Path | None = None,
                   build: bool = True, data_dir: str | None = None, hdris: str | None = None) -> Path:
    """One manifest joining the procedural library, every built source (or, for objects, the Kubric
    manifest ``objects``, e.g. a GSO mirror, with its archives in ``data_dir`` if given; for HDRIs, the
    maps of ``hdris``) and nothing that ``licences="cc0"`` excludes; cached by its content.
    ``build=False`` only joins what is already built."""
    if licences not in ("any", "cc0"):
        raise ValueError(f"assets.licences={licences!r}; choose from ('any', 'cc0')")
    reports = build_sources(root) if build else []
    parts = [builder.default_manifest()]
    if objects:
        parts.append(_user_manifest(objects))
    if hdris:
        parts.append(user_hdris(hdris).manifest)
    parts += [r.manifest for r in reports
              if r.manifest and not (objects and r.kind == "object") and not (hdris and r.kind == "hdri")]
    assets: dict[str, dict] = {}
    for part in parts:
        data = json.loads(Path(part).read_text())
        base = _archive_dir(part, data, data_dir if objects and part == parts[1] else None)
        for aid, entry in data["assets"].items():
            entry = json.loads(json.dumps(entry))
            entry.setdefault("metadata", {})
            md = entry["metadata"]
            if part == parts[0]:
                md.setdefault("kind", "object")
                md.setdefault("origin", "procedural")
                md.setdefault("roles", [])
                md.setdefault("licence", entry.get("license", builder.LICENSE))
            else:
                if entry.get("asset_type") == "FileBasedObject" and "density" not in md:  # not made by us
                    path = entry.get("path", "")
                    published.adopt_object(aid, entry, None if path is None else base / (path or f"{aid}.tar.gz"))
                md.setdefault("kind", "object" if entry.get("asset_type") == "FileBasedObject" else "hdri")
                md.setdefault("origin", data.get("name", Path(part).stem))
                md.setdefault("licence", entry.get("license", "unknown"))
                if md["kind"] == "object" and "roles" not in md:
                    lo, hi = entry["kwargs"]["bounds"]
                    md["roles"] = roles(np.subtract(hi, lo))
            if licences == "cc0" and md["origin"] != "procedural" and not _is_cc0(md["licence"]):
                continue
            path = entry.get("path", "")
            entry["path"] = str((base / (path or f"{aid}.tar.gz")).resolve()) if path is not None else None
            if aid in assets and assets[aid]["metadata"]["origin"] != "procedural":
                raise ValueError(f"asset id {aid!r} is in two sources ({part})")  # (a procedural one gives way)
            assets[aid] = entry
    manifest = {"name": "counterfactory-scenes", "version": str(LIBRARY_VERSION), "licences": licences,
                "assets": dict(sorted(assets.items()))}
    blob = builder.json_bytes(manifest)
    out = cache_dir("library", "scenes", hashlib.sha256(blob).hexdigest()[:16])
    path = out / builder.MANIFEST
    if not path.is_file():
        tmp = out / f".{builder.MANIFEST}.{os.getpid()}"
        tmp.write_bytes(blob)
        os.replace(tmp, path)
    return path


def _archive_dir(manifest: Path, data: dict, override: str | None) -> Path:
    """Where a manifest's archives are: ``override`` (``assets.data_dir``), else its ``data_dir`` (relative
    to the manifest's folder), else the manifest's folder. A remote one (``gs://``) needs the override."""
    if override:
        path = Path(override).expanduser().resolve()
        if not path.is_dir():
            raise FileNotFoundError(f"assets.data_dir: no such folder: {path}")
        return path
    where = data.get("data_dir")
    if where and "://" in str(where):
        raise ValueError(f"{manifest}: its archives are at {where}; set assets.data_dir to the local folder "
                         "holding its <id>.tar.gz archives")
    base = Path(where or Path(manifest).parent)
    return base if base.is_absolute() else Path(manifest).parent / base


def _user_manifest(objects: str) -> Path:
    path = Path(objects).expanduser()
    path = path / builder.MANIFEST if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"assets.library: asset manifest not found: {path}")
    return path


def _is_cc0(licence: str) -> bool:
    text = licence.lower().replace(" ", "")
    return text.startswith("cc0") or "publicdomain" in text or text.startswith("apache-2.0(generated")


# -- a generator's library ------------------------------------------------------------------------------

@dataclass
class AssetsConfig(Section):
    """``assets`` (configs/datagen/assets/default.yaml): which library, and the weights its samplers use."""
    SECTION = ("assets/default", "")
    library: str
    objects: dict
    environments: dict
    floors: dict
    licences: str
    materials: str
    data_dir: str | None
    hdris: str | None

    def __post_init__(self):
        for key, allowed in (("objects", ("real", "procedural")), ("environments", ("hdri", "sky")),
                             ("floors", ("photo", "procedural"))):
            weights = getattr(self, key)
            bad = sorted(set(weights) - set(allowed))
            if bad or any(not isinstance(w, (int, float)) or w < 0 for w in weights.values()):
                raise ValueError(f"assets.{key} must weight {allowed} with numbers >= 0, got {dict(weights)}")
            if not any(w > 0 for w in weights.values()):
                raise ValueError(f"assets.{key}: every weight is 0")
        if self.licences not in ("any", "cc0"):
            raise ValueError(f"assets.licences={self.licences!r}; choose from ('any', 'cc0')")
        if self.materials not in ("keep", "random"):
            raise ValueError(f"assets.materials={self.materials!r}; choose from ('keep', 'random')")
        if self.data_dir is not None and self.library in ("auto", "procedural"):
            raise ValueError("assets.data_dir is where the archives of assets.library=PATH's manifest are; "
                             f"assets.library is {self.library!r}")
        if self.hdris is not None and self.library == "procedural":
            raise ValueError("assets.hdris needs assets.library=auto or a manifest (procedural draws no HDRIs)")

    def key(self) -> tuple:
        return (self.library, tuple(sorted(self.objects.items())), tuple(sorted(self.environments.items())),
                tuple(sorted(self.floors.items())), self.licences, self.materials, self.data_dir, self.hdris)


@functools.lru_cache(maxsize=8)
def _open(key: tuple):
    from datagen.assets.source import SceneLibrary, open_asset_source

    library, objects, environments, floors, licences, materials, data_dir, hdris = key
    if library == "procedural":
        return SceneLibrary(open_asset_source(None), materials=materials)
    manifest = scene_manifest(None if library == "auto" else library, licences, data_dir=data_dir, hdris=hdris)
    mix = {"objects": dict(objects), "environments": dict(environments), "floors": dict(floors)}
    return SceneLibrary(open_asset_source(manifest), mix, str(manifest), materials)


def open_scene_library(cfg: AssetsConfig):
    """The generator's ``SceneLibrary`` (one per process and config): the scene manifest's source with the
    weights the scene samplers read, ``materials`` and ``manifest_path``."""
    return _open(cfg.key())


@functools.lru_cache(maxsize=8)
def caption_nouns(manifest: str | None) -> dict[str, str]:
    """{asset id: noun} of a scene manifest's objects whose metadata names them (``published.noun``: GSO's
    short description or category); {} for no manifest or one that cannot be read."""
    try:
        data = json.loads(Path(manifest).read_text()) if manifest else {}
    except (OSError, ValueError):
        return {}
    return {aid: md["noun"] for aid, e in (data.get("assets") or {}).items()
            if isinstance(e, dict) and isinstance(md := e.get("metadata") or {}, dict) and md.get("noun")}


def credits(source, asset_ids) -> list[dict]:
    """Who made each asset a sample uses, under which licence (procedural ones left out): for the
    dataset's attribution file."""
    from datagen.assets.source import SceneLibrary

    library, out = SceneLibrary.of(source), []
    for aid in sorted(set(a for a in asset_ids if a)):
        entry = library.entry(aid)
        md = entry.get("metadata") or {}
        if md.get("origin", "procedural") == "procedural":
            continue
        out.append({"id": aid, "kind": md.get("kind", "object"), "name": md.get("name", aid),
                    "licence": md.get("licence", entry.get("license", "unknown")), "creator": md.get("creator", ""),
                    "origin": md.get("origin", ""), "library": md.get("library", md.get("source_file", ""))})
    return out


def spec_asset_ids(spec) -> list[str]:
    env = spec.environment
    return [o.asset_id for o in spec.objects] + [env.hdri, env.floor_texture if env.floor == "photo" else None]
