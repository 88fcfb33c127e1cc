"""The package layout is the data flow: in ``datagen/`` and in ``training/`` every import points down a layer
(or stays in its own package), nothing imports in a circle, no module reaches into another's private names,
and no subpackage or top-level module has the name of an installed module. See docs/architecture.md for the
layers."""
from __future__ import annotations

import ast
import importlib.machinery
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Bottom to top, per package. A module may import from its own unit (subpackage or top-level module) or from
# a lower layer, never sideways or up.
LAYERS: dict[str, list[set[str]]] = {
    "datagen": [
        {"core"},                                     # paths, seeds, timing, rotations, pictures: no datagen imports
        {"kubric_compat", "labels", "dataset"},       # Kubric on Blender 4.5 · pixel maths of labels · shard format
        {"assets"},                                   # asset library and sources (Kubric manifests)
        {"humans"},                                   # bodies and motion (HUMOTO, anny, SMPL-X), HUMOTO objects
        {"scene"},                                    # spec, build, simulate, render, looks, random helpers, words
        {"void", "vera", "runner"},                   # VOID pairs · Vera layers · generator-agnostic runner
        {"void_counterfactuals", "vera_layers", "toy_shapes"},  # generators (module paths are in every dataset)
        {"audit", "validate", "preview", "export", "bench"},  # reports, benchmark splits and the dataset commands
        {"demo"},                                     # make demo: everything above, end to end
    ],
    "training": [
        {"core"},                    # runtime, checkpoint, EMA, encoders, clips, flow matching, noise warp, config
        {"models"},                  # Wan DiT, Vera MoT, VOID 48-channel DiT, affect predictor: plain nn.Modules
        {"inference", "evaluation"},  # inputs, runner, sampling, morphing, writing · scores, the report's machinery
        {"tasks"},                   # the Task protocol, one file per model kind, the registry: the one place a kind is known
        {"trainer", "jobs"},         # loop, optim, metrics, validation, config checks · infer, evaluate, precompute jobs
        {"train", "infer", "precompute", "evaluate"},  # entry points: the paths the README's commands name
        {"demo_affect"},             # make demo's last step: everything above, end to end
    ],
}
PACKAGES = sorted(LAYERS)


def module_name(root: Path, path: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def modules(root: Path, package: str) -> dict[str, Path]:
    return {module_name(root, p): p for p in sorted((root / package).rglob("*.py"))}


def unit(module: str) -> str:
    """The layer unit of a module: its first package below the top package (or the top-level module)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imports(module: str, path: Path) -> list[tuple[str, list[str], int]]:
    """``(imported module, imported names, line)`` of every import statement in ``module``, also
    those inside functions (deferred imports still make arrows)."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            out.append((base, [a.name for a in node.names], node.lineno))
    return out


def edges(root: Path, package: str) -> list[tuple[str, str, int, list[str]]]:
    """``(from module, to module, line, names)`` for every import of a package module by a package module."""
    mods = modules(root, package)
    out = []
    for module, path in mods.items():
        for target, names, line in imports(module, path):
            if target != package and not target.startswith(package + "."):
                continue
            subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in mods]
            for sub in subs:
                out.append((module, sub, line, []))
            rest = [n for n in names if f"{target}.{n}" not in mods]
            if rest or not names:
                out.append((module, target, line, rest))
    return out


def unplaced(root: Path, package: str, layers: list[set[str]]) -> list[str]:
    placed = {n for names in layers for n in names}
    return sorted({unit(m) for m in modules(root, package)} - {""} - placed)


def layer_violations(root: Path, package: str, layers: list[set[str]]) -> list[str]:
    layer = {n: i for i, names in enumerate(layers) for n in names}
    mods = modules(root, package)
    wrong = []
    for a, b, line, _ in edges(root, package):
        ua, ub = unit(a), unit(b)
        if ua == ub or ub == "":
            continue
        if ua == "" or layer[ub] >= layer[ua]:
            wrong.append(f"{mods[a].relative_to(root)}:{line} {a} -> {b} "
                         f"(layer {layer.get(ua)} imports layer {layer.get(ub)})")
    return wrong


def circles(root: Path, package: str) -> list[list[str]]:
    graph: dict[str, set[str]] = {m: set() for m in modules(root, package)}
    for a, b, _, _ in edges(root, package):
        if b in graph and a != b:
            graph[a].add(b)
    # Tarjan's strongly connected components
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def private_imports(root: Path, package: str) -> list[str]:
    mods = modules(root, package)
    return [f"{mods[a].relative_to(root)}:{line} imports {names} from {b}"
            for a, b, line, names in edges(root, package)
            if a != b and any(n.startswith("_") and not n.startswith("__") for n in names)]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_has_a_layer(package):
    missing = unplaced(ROOT, package, LAYERS[package])
    assert not missing, f"{package}: units without a layer (add them to LAYERS): {missing}"


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_point_down_the_layers(package):
    wrong = layer_violations(ROOT, package, LAYERS[package])
    assert not wrong, "imports that go sideways or up a layer:\n" + "\n".join(wrong)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_circles(package):
    found = circles(ROOT, package)
    assert not found, f"import circles: {found}"


@pytest.mark.parametrize("package", PACKAGES)
def test_no_private_names_across_modules(package):
    wrong = private_imports(ROOT, package)
    assert not wrong, "private names imported across modules:\n" + "\n".join(wrong)


def test_datagen_never_imports_training():
    wrong = [f"{path.relative_to(ROOT)}:{line} imports {t}" for m, path in modules(ROOT, "datagen").items()
             for t, _, line in imports(m, path) if t == "training" or t.startswith("training.")]
    assert not wrong, "\n".join(wrong)


# Where installed modules are found: every sys.path entry but the repository's own folders (site-packages
# may live inside the repository, in .venv/, and must be searched).
OWN = {ROOT, ROOT / "tests", ROOT / "datagen", ROOT / "training"}
INSTALLED = [p for p in sys.path if p and Path(p).resolve() not in OWN]
TOP_NAMES = [(package, n) for package in PACKAGES for names in LAYERS[package] for n in sorted(names)
             if (ROOT / package / n).is_dir() or (ROOT / package / f"{n}.py").is_file()]


@pytest.mark.parametrize("package, name", TOP_NAMES, ids=[f"{p}/{n}" for p, n in TOP_NAMES])
def test_no_unit_shadows_an_installed_module(package, name):
    """Running ``python datagen/x.py`` or ``python training/train.py`` puts that folder on sys.path (and Ray
    copies a script's folder to its workers' paths): a subpackage or module named like a library would
    then replace that library."""
    found = importlib.machinery.PathFinder.find_spec(name, INSTALLED)
    assert found is None, f"{package}/{name} has the name of an installed module ({found.origin})"


def test_the_shadow_check_searches_the_installed_packages():
    for name in ("torch", "kubric", "hydra"):
        assert importlib.machinery.PathFinder.find_spec(name, INSTALLED) is not None, name


def test_layer_checks_can_fail(tmp_path):
    """Each checker fails on a package made to break its rule: an upward deferred import, a sideways import,
    a circle, a private name, a unit without a layer; and accepts what the rules allow."""
    files = {
        "pkg/__init__.py": "",
        "pkg/low/__init__.py": "",
        "pkg/low/a.py": "import os\n\n\ndef f():\n    from pkg.high import b  # deferred, and up\n    return b, os\n",
        "pkg/low/c.py": "from pkg.low import a\nfrom . import a as again\n",
        "pkg/high/__init__.py": "",
        "pkg/low/p.py": "_hidden = 1\n",
        "pkg/high/b.py": "from pkg.low.p import _hidden\nfrom pkg.high import d\n",
        "pkg/high/d.py": "from pkg.high.b import thing\n",
        "pkg/side/__init__.py": "",
        "pkg/side/e.py": "from pkg.high.b import thing\n",
        "pkg/stray/__init__.py": "",
        "pkg/top.py": "from pkg.side import e\nfrom pkg.high import d\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    layers = [{"low"}, {"high", "side"}, {"top"}]
    assert unplaced(tmp_path, "pkg", layers) == ["stray"]
    wrong = layer_violations(tmp_path, "pkg", layers)
    assert [w.split(" (")[0] for w in wrong] == ["pkg/low/a.py:5 pkg.low.a -> pkg.high.b",
                                                 "pkg/side/e.py:1 pkg.side.e -> pkg.high.b"], wrong
    assert circles(tmp_path, "pkg") == [["pkg.high.b", "pkg.high.d"]]
    assert private_imports(tmp_path, "pkg") == ["pkg/high/b.py:1 imports ['_hidden'] from pkg.low.p"]


def test_only_the_scene_library_reads_kubric_manifest_entries():
    """Kubric keeps a source's manifest entries in the private ``_assets``: only ``datagen/assets/source.py``
    (``SceneLibrary``, ``asset_entry``) reads it, and nothing stores attributes on a Kubric source."""
    found = []
    for package in ("datagen", "training"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == ROOT / "datagen" / "assets" / "source.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Attribute) and node.attr in ("_assets", "_cf_pools", "_cf_textured"):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} .{node.attr}")
    assert not found, found
