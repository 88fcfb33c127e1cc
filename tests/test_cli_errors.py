"""One command-line error helper (``datagen.core.cli``): every command that reads shards or clip folders
turns bad input into one line ``error: ...`` naming it, exit code 2, no traceback; and a dataset's
``dataset.json`` can make a tool import only a registered generator."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from datagen.core.cli import command, error_line
from test_validate import copy, dataset  # noqa: F401  (fixtures: a toy dataset, and a copy of it per test)

MARKER = "/tmp/counterfactory-generator-imported"
REPO = Path(__file__).resolve().parents[1]


def evil_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        info = tarfile.TarInfo("../evil/00000000.caption.txt")
        info.size = 3
        t.addfile(info, io.BytesIO(b"bad"))
    return buf.getvalue()


def test_the_helper_turns_input_errors_into_one_line_and_exit_2(capsys):
    @command
    def main(kind):
        if kind == "none":
            return None
        raise {"value": ValueError("x.tar: bad\nsecond line"), "missing": FileNotFoundError(2, "No such file", "y"),
               "tar": tarfile.ReadError("file could not be opened successfully"), "bug": KeyError("k")}[kind]

    assert main("none") == 0
    assert main("value") == 2 and capsys.readouterr().err == "error: x.tar: bad\n"
    assert main("missing") == 2 and capsys.readouterr().err == "error: [Errno 2] No such file: 'y'\n"
    assert main("tar") == 2 and capsys.readouterr().err == "error: file could not be opened successfully\n"
    with pytest.raises(KeyError):  # a bug keeps its traceback
        main("bug")
    assert error_line(ValueError()) == "error: ValueError"
    assert command(also=(RuntimeError,))(lambda: (_ for _ in ()).throw(RuntimeError("split failed")))() == 2


def _one_error_line(err: str, *names: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines and lines[-1].startswith("error: ") and "Traceback" not in err, err
    assert all(name in lines[-1] for name in names), lines[-1]
    return lines[-1]


@pytest.mark.parametrize("damage", ["truncated", "evil"])
def test_preview_of_a_corrupt_or_hostile_shard_is_one_line(copy, tmp_path, capsys, damage):
    from datagen.preview import main

    tar = copy / "shard-000000.tar"
    data = tar.read_bytes()
    tar.write_bytes(data[: len(data) // 2] if damage == "truncated" else evil_tar())
    assert main([str(copy), "--out", str(tmp_path / "p")]) == 2
    line = _one_error_line(capsys.readouterr().err, "shard-000000.tar", "corrupt or truncated shard")
    if damage == "evil":
        assert "unsafe tar member" in line


def test_every_shard_command_gives_one_line_for_a_hostile_shard(copy, tmp_path, capsys):
    """audit, export and evaluate read VOID datasets: a toy set relabelled as one, its first shard hostile."""
    from datagen.audit import main as audit
    from datagen.dataset.export import main as export
    from training.evaluate import main as evaluate

    summary = json.loads((copy / "dataset.json").read_text())
    (copy / "dataset.json").write_text(json.dumps({**summary, "generator": "datagen.void_counterfactuals"}))
    (copy / "shard-000000.tar").write_bytes(evil_tar())
    for main, argv in ((audit, [str(copy), "--out", str(tmp_path / "a.html")]),
                       (export, [str(copy), "--format", "void", "--to", str(tmp_path / "x")]),
                       (evaluate, ["--truth", str(copy), "--out", str(tmp_path / "r")])):
        assert main(argv) == 2, main
        _one_error_line(capsys.readouterr().err, "shard-000000.tar")
    assert evaluate(["--truth", str(tmp_path / "nothing")]) == 2
    _one_error_line(capsys.readouterr().err, "nothing")


def test_preview_process_exits_2_without_a_traceback(copy, tmp_path):
    (copy / "shard-000001.tar").write_bytes(evil_tar())
    proc = subprocess.run([sys.executable, "-m", "datagen.preview", str(copy), "--out", str(tmp_path / "p")],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    _one_error_line(proc.stderr, "shard-000001.tar")


@pytest.fixture
def side_effect_module(tmp_path, monkeypatch):
    """An importable module that would leave a marker file if it were ever imported."""
    if os.path.exists(MARKER):
        os.unlink(MARKER)
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "evil_generator.py").write_text(
        f"open({MARKER!r}, 'w').write('imported')\nSCHEMA = {{}}\n")
    monkeypatch.syspath_prepend(str(tmp_path / "mods"))
    yield "evil_generator"
    assert not os.path.exists(MARKER), "a dataset made a tool import its module"
    assert "evil_generator" not in sys.modules


@pytest.mark.parametrize("name", ["os", "evil_generator", "datagen.core.paths"])
def test_a_dataset_can_name_only_a_registered_generator(copy, tmp_path, capsys, side_effect_module, name):
    from datagen.preview import main as preview
    from datagen.validate import main as validate

    summary = json.loads((copy / "dataset.json").read_text())
    (copy / "dataset.json").write_text(json.dumps({**summary, "generator": name}))
    for argv in ([str(copy)], [str(copy), "--out", str(tmp_path / "p")]):
        main = validate if len(argv) == 1 else preview
        assert main(argv) == 2
        line = _one_error_line(capsys.readouterr().err)
        assert line == (f"error: generator {name!r} is not a registered generator (datagen.void_counterfactuals, "
                        f"datagen.vera_layers, datagen.toy_shapes): refusing to import it")
    assert validate([str(copy), "--generator", "evil_generator"]) == 2
    assert "'evil_generator' is not a registered generator" in capsys.readouterr().err
    assert validate([str(copy), "--generator", "datagen.toy_shapes"]) == 0  # a registered one may be named


def _benchmark(name: str):
    """A benchmark script (``benchmarks/<name>.py``, not a package) as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_other_command_gives_one_line_for_bad_input(tmp_path, capsys):
    """assets build, the demos and the benchmarks go through the same helper: an output
    folder that is a file, a dataset that is not there, a render device that is not here -> one line, exit 2."""
    from datagen.assets.__main__ import main as assets
    from datagen.demo import main as demo
    from datagen.scene.devices import DeviceError, check
    from training.demo_affect import main as demo_affect

    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "dataset.json").write_text("{}")
    cases = [(assets, ["build", "--out", str(a_file)], ["a_file", "not an asset library"]),
             (demo, ["--out", str(a_file)], ["a_file"]),
             (_benchmark("morphing").main, [str(empty)], ["empty", "no finished shards"]),
             (_benchmark("train_step").main, ["--data", str(tmp_path / "none")], ["none", "no dataset.json"]),
             (_benchmark("void_pair").main, ["--families", "nosuch"], ["nosuch"]),
             (_benchmark("inference_memory").main, ["--sizes", "10x"], ["invalid literal"])]
    try:
        check("optix")
    except DeviceError:  # no such GPU here (the usual case): the render benchmark refuses in one line
        cases.append((_benchmark("render").main, ["--device", "optix"], ["optix"]))
    for main, argv, names in cases:
        assert main(argv) == 2, main
        _one_error_line(capsys.readouterr().err, *names)
    assert demo_affect(["--data", str(tmp_path / "none")]) == 2
    assert capsys.readouterr().err == (f"error: --data {tmp_path / 'none'}: no dataset.json "
                                       f"(run python -m datagen.demo first)\n")
