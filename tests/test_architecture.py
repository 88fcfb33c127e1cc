"""The package layout is the data flow: every import inside ``datagen/`` points down a layer (or stays
in its own package), nothing imports in a circle, no module reaches into another's private names, and
no subpackage shadows an installed top-level module. See docs/architecture.md for the layers."""
from __future__ import annotations

import ast
import importlib.machinery
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATAGEN = ROOT / "datagen"

# Bottom to top. A module may import from its own package or from a lower layer, never sideways or up.
LAYERS: list[set[str]] = [
    {"core"},                                     # paths, seeds, timing, rotations, pictures: no datagen imports
    {"kubric_compat", "labels", "dataset"},       # Kubric on Blender 4.5 · pixel maths of labels · shard format
    {"assets"},                                   # asset library and sources (Kubric manifests)
    {"humans"},                                   # bodies and motion (HUMOTO, anny, SMPL-X), HUMOTO objects
    {"scene"},                                    # spec, build, simulate, render, looks, random helpers, words
    {"void", "vera", "runner"},                   # VOID pairs · Vera layers · generator-agnostic runner
    {"void_counterfactuals", "vera_layers", "toy_shapes"},  # generators (module paths are in every dataset)
    {"audit", "validate", "preview", "export", "bench"},  # reports, benchmark splits and the dataset commands
    {"demo"},                                     # make demo: everything above, end to end
]
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(DATAGEN.rglob("*.py"))}


def unit(module: str) -> str:
    """The layer unit of a module: its first package below ``datagen`` (or the top-level module)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imports(module: str) -> list[tuple[str, list[str], int]]:
    """``(imported module, imported names, line)`` of every import statement in ``module``, also
    those inside functions (deferred imports still make arrows)."""
    path = MODULES[module]
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


def edges() -> list[tuple[str, str, int, list[str]]]:
    """``(from module, to module, line, names)`` for every import of a datagen module by a datagen module."""
    out = []
    for module in MODULES:
        for target, names, line in imports(module):
            if target != "datagen" and not target.startswith("datagen."):
                continue
            subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in MODULES]
            for sub in subs:
                out.append((module, sub, line, []))
            rest = [n for n in names if f"{target}.{n}" not in MODULES]
            if rest or not names:
                out.append((module, target, line, rest))
    return out


def test_every_datagen_package_has_a_layer():
    units = {unit(m) for m in MODULES} - {""}
    assert units <= set(LAYER), f"packages without a layer (add them to LAYERS): {sorted(units - set(LAYER))}"


def test_imports_point_down_the_layers():
    wrong = []
    for a, b, line, _ in edges():
        ua, ub = unit(a), unit(b)
        if ua == ub or ub == "":
            continue
        if ua == "" or LAYER[ub] >= LAYER[ua]:
            wrong.append(f"{MODULES[a].relative_to(ROOT)}:{line} {a} -> {b} "
                         f"(layer {LAYER.get(ua)} imports layer {LAYER.get(ub)})")
    assert not wrong, "imports that go sideways or up a layer:\n" + "\n".join(wrong)


def test_no_import_circles():
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for a, b, _, _ in edges():
        if b in graph and a != b:
            graph[a].add(b)
    # Tarjan's strongly connected components
    index, low, stack, on, cycles, counter = {}, {}, [], set(), [], [0]

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
                cycles.append(sorted(comp))

    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, f"import circles: {cycles}"


def test_no_private_names_across_modules():
    wrong = [f"{MODULES[a].relative_to(ROOT)}:{line} imports {names} from {b}"
             for a, b, line, names in edges()
             if a != b and any(n.startswith("_") and not n.startswith("__") for n in names)]
    assert not wrong, "private names imported across modules:\n" + "\n".join(wrong)


def test_datagen_never_imports_training():
    wrong = [f"{MODULES[m].relative_to(ROOT)}:{line} imports {t}" for m in MODULES for t, _, line in imports(m)
             if t == "training" or t.startswith("training.")]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("name", sorted(n for n in LAYER if (DATAGEN / n).is_dir()))
def test_subpackage_does_not_shadow_an_installed_module(name):
    """Running ``python datagen/x.py`` puts ``datagen/`` on sys.path (and Ray copies a script's folder to
    its workers' paths): a subpackage named like a library would then replace that library."""
    outside = [p for p in sys.path if p and not Path(p).resolve().is_relative_to(ROOT)]
    found = importlib.machinery.PathFinder.find_spec(name, outside)
    assert found is None, f"datagen/{name}/ has the name of an installed module ({found.origin})"


def test_layer_checks_can_fail(tmp_path):
    """The checker sees deferred imports and resolves ``from pkg import submodule``."""
    src = "def f():\n    from datagen.void import pairs\n    from datagen.scene.spec import _x\n"
    tree = ast.parse(src)
    found = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert [f.module for f in found] == ["datagen.void", "datagen.scene.spec"]
