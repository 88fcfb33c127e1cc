"""A small Sweet Home 3D furniture library (``.sh3f``) in the real layout, for the tests: what
``datagen.assets.sweethome`` reads from the libraries users fetch."""
from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path


def write_sh3f(path: str | Path, library: str, models: list[dict]) -> Path:
    """A small ``.sh3f`` in the real layout (tests and users' own libraries): ``models`` are dicts with
    ``name, category, size_cm, obj (text), mtl (text or None), textures ({file: bytes})`` and optional
    ``rotation`` (9 numbers), ``creator``."""
    path = Path(path)
    lines = [f"id=Test#{library}", f"name={library}", "license=Public domain", ""]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("LICENSE.TXT", f"{library}: test library\n")
        for n, spec in enumerate(models, start=1):
            slug = re.sub(r"[^a-z0-9]+", "", spec["name"].lower())
            folder = f"{library.lower()}/{slug}"
            obj = spec["obj"] if spec.get("mtl") is None else f"mtllib {slug}.mtl\n" + spec["obj"]
            z.writestr(f"{folder}/{slug}.obj", obj)
            if spec.get("mtl") is not None:
                z.writestr(f"{folder}/{slug}.mtl", spec["mtl"])
            for name, data in (spec.get("textures") or {}).items():
                z.writestr(f"{folder}/{name}", data)
            w, d, h = spec["size_cm"]
            lines += [f"id#{n}={library}#{slug}", f"name#{n}={spec['name']}", f"category#{n}={spec['category']}",
                      f"model#{n}=/{folder}/{slug}.obj", f"multiPartModel#{n}=true", f"width#{n}={w}",
                      f"depth#{n}={d}", f"height#{n}={h}", f"movable#{n}=true", f"doorOrWindow#{n}=false",
                      f"creator#{n}={spec.get('creator', 'counterfactory')}"]
            if spec.get("rotation"):
                lines.append(f"modelRotation#{n}=" + " ".join(f"{v:g}" for v in spec["rotation"]))
            lines.append("")
        z.writestr("PluginFurnitureCatalog.properties", "\n".join(lines).encode("latin-1"))
    path.write_bytes(buf.getvalue())
    return path
