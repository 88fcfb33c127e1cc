"""Asset manifests counterfactory did not make, read as their producers write them: Kubric's GSO
(``kubric/scripts/download_GSO.py``), KuBasic and HDRI_haven (``kubric/scripts/download_hdri_haven.py``).

Such an entry carries no key of ours, so what the scene library needs comes from what the producer wrote:

- licence: the entry's ``license`` in our naming ("CC BY-SA 4.0" -> "CC-BY-SA-4.0", "CC0 1.0" -> "CC0-1.0");
- category and description: GSO writes the string "None" for a model without a category; that is missing;
- mass: GSO's ``kwargs.mass`` is the volume times 1 kg/m^3 (``get_object_properties(density=1.0)``), about
  1000x too light, so the mass is our effective density (``sweethome.DENSITY_WORDS`` by the object's name)
  times its volume (``metadata.volume``, else the convex hull of its collision mesh);
- the caption's noun: a short description ("Schleich Allosaurus" -> "schleich allosaurus"), else the
  category ("Shoe" -> "shoe"), else (None) the id;
- its look: an object keeps the materials it is imported with when its visual OBJ brings an MTL with a
  texture (``mtllib`` naming an MTL whose ``map_Kd`` file is beside it), as GSO's scans do;
- HDRIs: an HDRI_haven archive holds ``data.json`` (an ``asset_type: Texture`` entry whose
  ``kwargs.filename`` names the map, ``environment_4k.hdr`` or ``{asset_dir}/<name>.hdr``) and the map.
"""
from __future__ import annotations

import io
import json
import posixpath
import re
import tarfile
from pathlib import Path

from datagen.assets import builder, sweethome

MISSING = ("", "none", "null")
MAX_NOUN_WORDS = 6  # a description longer than this (after sizes and counts are dropped) is prose, not a name
# sizes and counts in product names: "16 oz", "3.5-4.5", "12 ct", "2 pack"
_SIZES = re.compile(r"\b\d[\d./-]*\s*(?:oz|fl|ml|l|g|kg|lbs?|ct|count|pack|pk|pcs?|in|inch|cm|mm|x)?\b", re.I)


def given(value) -> str | None:
    """A metadata text with its whitespace collapsed, or None when missing ("None", "", null)."""
    if value is None:
        return None
    text = " ".join(str(value).split())
    return None if text.lower() in MISSING else text


def licence_name(text) -> str:
    """A manifest's ``license`` in our (SPDX-style) naming: "CC BY-SA 4.0" -> "CC-BY-SA-4.0"."""
    t = given(text)
    if t is None:
        return "unknown"
    t = re.sub(r"(?i)\s+international$", "", t)
    if re.match(r"(?i)cc(0|[\s_-])", t):
        return re.sub(r"[\s_]+", "-", t).upper()
    return t


def _keep_case(word: str) -> bool:
    return any(c.isupper() for c in word[1:])  # acronyms and brands: "ACE", "iPhone"


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us")) and len(word) > 3:
        return word[:-1]
    return word


def noun(asset_id: str, md: dict) -> str | None:
    """What a caption calls an object of a published manifest: its description when that is a short name
    (its first sentence, up to the first comma, without sizes and counts, at most MAX_NOUN_WORDS words),
    else a one- or two-word category in the singular, else None (then the id, as words)."""
    desc = given(md.get("description"))
    sentence = re.split(r"\.\s", desc)[0] if desc else ""
    if sentence and len(sentence.split()) <= 2 * MAX_NOUN_WORDS:  # longer: prose about the product
        head = re.split(r"[,;:(\[]|\s-\s", sentence)[0]
        words = re.findall(r"[A-Za-z][A-Za-z'&-]*", _SIZES.sub(" ", head))
        if 1 <= len(words) <= MAX_NOUN_WORDS:
            return " ".join(w if _keep_case(w) else w.lower() for w in words)
    category = given(md.get("category"))
    if category and " and " not in category.lower() and len(category.split()) <= 2:
        words = category.lower().split()
        return " ".join([*words[:-1], _singular(words[-1])])
    return None


def density(asset_id: str, md: dict) -> float:
    """Our effective density for an object of a published manifest, by its name, category and id."""
    words = [noun(asset_id, md), given(md.get("category")), asset_id.replace("_", " ")]
    return sweethome.density_of(" ".join(w for w in words if w))


# -- archives -----------------------------------------------------------------------------------------

def _member(tar: tarfile.TarFile, name: str, asset_id: str | None = None):
    """A file of a flat archive or of one holding an ``<asset_id>/`` folder (both are Kubric's)."""
    files = {m.name: m for m in tar.getmembers() if m.isfile()}
    for key in (name, f"{asset_id}/{name}" if asset_id else None):
        if key in files:
            return files[key]
    return None


def hull_volume(archive: Path, asset_id: str, names=("collision_geometry.obj", "visual_geometry.obj")) -> float | None:
    """Volume (m^3) of the convex hull of an archive's collision mesh (else its visual mesh); None if neither."""
    import numpy as np
    import trimesh

    with tarfile.open(archive, "r:gz") as tar:
        for name in names:
            m = _member(tar, name, asset_id)
            if m is None:
                continue
            text = tar.extractfile(m).read().decode(errors="replace")
            points = np.array([[float(t) for t in ln.split()[1:4]] for ln in text.splitlines()
                               if ln.startswith("v ")])
            if len(points) >= 4:
                return float(trimesh.convex.convex_hull(points).volume)
    return None


def adopt_object(asset_id: str, entry: dict, archive: Path | None) -> None:
    """Make an object entry of a published manifest (one without our ``density``) what the scene library
    expects, in place: licence, a missing category, a mass from our densities, the caption's noun."""
    md = entry.setdefault("metadata", {})
    for key in ("category", "description"):
        if key in md and given(md[key]) is None:
            del md[key]
    md.setdefault("licence", licence_name(entry.get("license")))
    volume = md.get("volume")
    volume = abs(float(volume)) if isinstance(volume, (int, float)) and not isinstance(volume, bool) else 0.0
    if volume <= 0 and archive is not None and archive.is_file():
        volume = hull_volume(archive, asset_id) or 0.0
    if volume > 0:
        md["density"] = density(asset_id, md)
        md["manifest_mass"] = entry.get("kwargs", {}).get("mass")
        entry.setdefault("kwargs", {})["mass"] = md["mass"] = builder.num(md["density"] * volume)
    name = noun(asset_id, md)
    if name:
        md["noun"] = name


def obj_textures(obj: Path) -> list[Path]:
    """The texture images an OBJ brings: the ``map_Kd`` files (that exist) of the MTLs its ``mtllib``
    statements name (relative to the OBJ, as importers resolve them)."""
    try:
        data = obj.read_bytes()
    except OSError:
        return []
    out = []
    for m in re.finditer(rb"^[ \t]*mtllib[ \t]+([^\r\n]+)", data, re.M):
        text = m.group(1).decode(errors="replace").strip()
        for name in dict.fromkeys([text, *text.split()]):
            mtl = obj.parent / name.replace("\\", "/")
            if not mtl.is_file():
                continue
            for line in mtl.read_text(errors="replace").splitlines():
                parts = line.split()
                if len(parts) > 1 and parts[0].lower() == "map_kd":
                    for candidate in (parts[-1], " ".join(parts[1:])):
                        texture = mtl.parent / candidate.replace("\\", "/")
                        if texture.is_file():
                            out.append(texture)
                            break
    return out


def hdri_archive(archive: Path) -> tuple[dict, str, bytes] | None:
    """(entry, map's file name, map bytes) of a Kubric HDRI archive (``data.json`` of ``asset_type:
    Texture`` and the map its ``kwargs.filename`` names); None when the archive is not one."""
    with tarfile.open(archive, "r:gz") as tar:
        files = {m.name: m for m in tar.getmembers() if m.isfile()}
        data = next((m for n, m in sorted(files.items()) if posixpath.basename(n) == "data.json"), None)
        if data is None:
            return None
        entry = json.load(io.TextIOWrapper(tar.extractfile(data), encoding="utf-8"))
        if not isinstance(entry, dict) or entry.get("asset_type") != "Texture":
            return None
        name = str((entry.get("kwargs") or {}).get("filename", ""))
        name = name[len("{asset_dir}/"):] if name.startswith("{asset_dir}/") else name
        folder = posixpath.dirname(data.name)
        member = files.get(posixpath.join(folder, name)) or files.get(name)
        if member is None:
            raise ValueError(f"{archive}: data.json names the map {name!r}, which the archive does not hold")
        return entry, posixpath.basename(member.name), tar.extractfile(member).read()
