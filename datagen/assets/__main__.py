"""``python -m datagen.assets build [--out DIR] [--force] [--sources DIR] [--licences any|cc0] [--list]``:
build the procedural library and every installed real source (cached), and print what there is."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter

from datagen.assets.builder import build_library, default_library_dir
from datagen.core.cli import command


def summary_lines(manifest: dict) -> list[str]:
    lines = []
    for aid, entry in sorted(manifest["assets"].items()):
        md = entry.get("metadata", {})
        size = "x".join(f"{s:.3g}" for s in md.get("nominal_size", []))
        lines.append(f"{aid:<9} {md.get('category', '?'):<10} {md.get('material_preset', '?'):<8} "
                     f"{size:>17} m  {md.get('mass', 0):7.3f} kg  {md.get('nr_faces', 0):5d} tris  "
                     f"{md.get('collision_parts', 0):3d} part(s) ({md.get('collision_method', '?')})")
    return lines


@command
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m datagen.assets",
                                     description="counterfactory's offline asset libraries")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build the procedural library and every installed source (cached)")
    build.add_argument("--out", help="procedural library folder (default: the cache, keyed by the recipe)")
    build.add_argument("--force", action="store_true", help="rebuild the procedural library even if up to date")
    build.add_argument("--sources", help="where the fetched sources are (default: $COUNTERFACTORY_CACHE/sources)")
    build.add_argument("--licences", choices=("any", "cc0"), default="any",
                       help="which assets the joined scene manifest keeps")
    build.add_argument("--list", action="store_true", help="also list the procedural objects one by one")
    args = parser.parse_args(argv)

    from datagen.assets.library import build_sources, scene_manifest

    out = args.out if args.out else default_library_dir()
    start = time.perf_counter()
    path = build_library(out, force=args.force)
    manifest = json.loads(path.read_text())
    try:
        if args.out:  # one procedural library into a folder of the user's: list it and stop
            print(f"asset library: {path}  ({len(manifest['assets'])} assets, {time.perf_counter() - start:.1f} s)")
            for line in summary_lines(manifest):
                print("  " + line)
            return 0
        print(f"procedural   object   {len(manifest['assets']):4d}  [{len(manifest['assets'])} Apache-2.0 "
              f"(generated)]  {path}")
        if args.list:
            for line in summary_lines(manifest):
                print("  " + line)
        reports = build_sources(args.sources, progress=None)
        for r in reports:
            print(f"{r.line()}  {r.manifest}")
        joined = scene_manifest(None, args.licences, args.sources)
        assets = json.loads(joined.read_text())["assets"]
        kinds = Counter(e["metadata"]["kind"] for e in assets.values())
        licences = Counter(e["metadata"]["licence"] for e in assets.values())
        print(f"scene library ({args.licences}): {kinds['object']} objects, {kinds['hdri']} HDRIs, "
              f"{kinds['surface']} surfaces; licences: "
              + ", ".join(f"{n} {k}" for k, n in licences.most_common()) + f"  ({time.perf_counter() - start:.1f} s)")
        print(f"  {joined}")
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into `head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
