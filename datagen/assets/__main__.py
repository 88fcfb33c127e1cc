"""``python -m datagen.assets build [--out DIR] [--force]``: build the library and summarise it."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

from datagen.assets.builder import build_library, default_library_dir


def summary_lines(manifest: dict) -> list[str]:
    lines = []
    for aid, entry in sorted(manifest["assets"].items()):
        md = entry.get("metadata", {})
        size = "x".join(f"{s:.3g}" for s in md.get("nominal_size", []))
        lines.append(f"{aid:<9} {md.get('category', '?'):<10} {md.get('material_preset', '?'):<8} "
                     f"{size:>17} m  {md.get('mass', 0):7.3f} kg  {md.get('nr_faces', 0):5d} tris  "
                     f"{md.get('collision_parts', 0):3d} part(s) ({md.get('collision_method', '?')})")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m datagen.assets",
                                     description="counterfactory's offline Kubric asset library")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build the library (once; cached) and list it")
    build.add_argument("--out", help="library folder (default: the cache, keyed by the recipe)")
    build.add_argument("--force", action="store_true", help="rebuild even if up to date")
    args = parser.parse_args(argv)

    out = args.out if args.out else default_library_dir()
    start = time.perf_counter()
    path = build_library(out, force=args.force)
    took = time.perf_counter() - start
    manifest = json.loads(path.read_text())
    try:
        print(f"asset library: {path}  ({len(manifest['assets'])} assets, {took:.1f} s)")
        for line in summary_lines(manifest):
            print("  " + line)
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into `head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
