"""Two test tiers (Makefile): ``make check`` runs every test that is not marked render, train, ray, notebook or
fullsize, ``make test`` runs them all. The tests the fast tier exists for are named here, so that a heavy
marker on one of them (or on its whole file) fails here instead of quietly taking it out of the tier."""
from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = {"render", "train", "ray", "notebook", "fullsize"}
REQUIRED = {  # file -> the tests that must stay in `make check` (None: all of the file's tests)
    "test_architecture.py": None,
    "test_config_sections.py": None,      # config sections and data config hashes
    "test_training.py": ["test_config_composes", "test_default_out_and_bad_configs", "test_clip_frames",
                         "test_clips_are_cropped_or_resized_to_multiples_of_16"],  # the trainers' config, clips
    "test_runner_local.py": ["test_bad_configs_fail_with_one_line"],
    "test_layers.py": None,               # label maths
    "test_quadmask.py": None,
    "test_sampling.py": None,             # sampler parity with diffusers
    "test_untrusted.py": None,            # untrusted input
    "test_sample_io.py": None,            # the shard format and the reader
    "test_tasks.py": None,                # the Task protocol's contract, over every task
    "test_tiers.py": None,
}


def _marks(nodes) -> set[str]:
    """Marker names in decorators or a ``pytestmark`` value: pytest.mark.X, pytest.mark.X(...), [...]."""
    out = set()
    for node in nodes:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Attribute) and sub.value.attr == "mark":
                out.add(sub.attr)
    return out


def test_the_heavy_markers_are_registered_and_make_check_leaves_them_out():
    ini = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "--strict-markers" in ini["addopts"]
    assert {m.split(":")[0].strip() for m in ini["markers"]} == HEAVY
    heavy = re.search(r"^HEAVY := (.+)$", (ROOT / "Makefile").read_text(), flags=re.M).group(1)
    assert set(heavy.split(" or ")) == HEAVY


def test_required_tests_stay_in_the_fast_tier():
    wrong = []
    for name, wanted in REQUIRED.items():
        tree = ast.parse((ROOT / "tests" / name).read_text())
        module = _marks([n.value for n in tree.body if isinstance(n, ast.Assign)
                         and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in n.targets)])
        tests = {n.name: _marks(n.decorator_list) for n in tree.body
                 if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}
        for test in wanted or sorted(tests):
            if test not in tests:
                wrong.append(f"{name}::{test}: no such test (rename it here too)")
            elif (module | tests[test]) & HEAVY:
                wrong.append(f"{name}::{test}: marked {sorted((module | tests[test]) & HEAVY)}")
    assert not wrong, "\n".join(wrong)
