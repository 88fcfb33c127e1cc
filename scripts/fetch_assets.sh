#!/usr/bin/env bash
# Real assets, from the package registries only (nothing else is downloaded, now or at run time):
#   sweethome3d   Debian sweethome3d-furniture: ~820 OBJ+MTL+texture models with a catalogue (CC0 / CC-BY)
#   pmndrs        npm @pmndrs/assets 1.7.0: 18 Poly Haven HDRIs (CC0), 512x256 EXR inside .js files
#   maniskill     PyPI mani-skill 3.0.1 wheel, unzipped (never installed): a 4K Poly Haven sky (CC0) and the
#                 Poly Haven floor_tiles_06 diffuse texture
# Each source lands in $COUNTERFACTORY_CACHE/sources/<name>/ (default ~/.cache/counterfactory/sources) with a
# .complete marker, so a rerun is a no-op. A source that cannot be fetched is skipped with a warning: the
# generators then use what there is (bpy's own HDRIs, the procedural library). `python -m datagen.assets
# build` converts the sources into Kubric-format manifests (docs/assets.md).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=$(cd "$(dirname "${VENV:-.venv}/bin/python")" && pwd)/python
ROOT=${COUNTERFACTORY_CACHE:-$HOME/.cache/counterfactory}/sources
mkdir -p "$ROOT"

fetch() {  # fetch NAME FUNCTION: run FUNCTION in a temporary folder, then publish it as ROOT/NAME
  local name=$1 fn=$2 tmp
  [ -f "$ROOT/$name/.complete" ] && return 0
  tmp=$(mktemp -d "$ROOT/.$name.XXXXXX")
  chmod 755 "$tmp"
  if (cd "$tmp" && $fn); then
    rm -rf "$ROOT/$name" && mv "$tmp" "$ROOT/$name" && touch "$ROOT/$name/.complete"
    echo "assets: fetched $name -> $ROOT/$name"
  else
    rm -rf "$tmp"
    echo "assets: warning: could not fetch $name; generators will use the other sources" >&2
  fi
}

sweethome3d() {
  if ! apt-get download sweethome3d-furniture >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || return 1
    apt-get update -qq >/dev/null 2>&1 && apt-get download sweethome3d-furniture >/dev/null || return 1
  fi
  dpkg -x sweethome3d-furniture_*.deb extracted || return 1
  mkdir -p furniture && mv extracted/usr/share/sweethome3d/furniture/*.sh3f furniture/ || return 1
  rm -rf extracted sweethome3d-furniture_*.deb
}

pmndrs() {
  command -v npm >/dev/null || return 1
  npm pack --silent @pmndrs/assets@1.7.0 >/dev/null 2>&1 || return 1
  tar xzf pmndrs-assets-1.7.0.tgz package/hdri package/LICENSE package/package.json || return 1
  rm -f pmndrs-assets-1.7.0.tgz
}

maniskill() {
  "$PY" -m pip download --quiet --disable-pip-version-check --no-deps mani-skill==3.0.1 -d . >/dev/null 2>&1 || return 1
  "$PY" - <<'EOF' || return 1
import glob, zipfile
wheel = glob.glob("mani_skill-3.0.1-*.whl")[0]
keep = {"mani_skill/utils/scene_builder/replicacad/autumn_field_puresky_4k.hdr": "autumn_field_puresky_4k.hdr",
        "mani_skill/utils/building/assets/floor_tiles_06_diff_2k_aligned.png": "floor_tiles_06_diff_2k.png",
        "mani_skill-3.0.1.dist-info/METADATA": "METADATA"}
with zipfile.ZipFile(wheel) as z:
    for member, name in keep.items():
        with z.open(member) as src, open(name, "wb") as dst:
            dst.write(src.read())
EOF
  rm -f mani_skill-3.0.1-*.whl
}

fetch sweethome3d sweethome3d
fetch pmndrs pmndrs
fetch maniskill maniskill
exit 0
