"""Users' files are untrusted: pickles that would run code are refused, SMPL-X models are read without
pickle, checkpoints load tensors and plain data only, shard tars may not name files outside themselves,
and a truncated shard is one clear error naming it in validate, audit, export and training."""
from __future__ import annotations

import io
import json
import os
import pickle
import tarfile

import numpy as np
import pytest
import torch

from datagen.core import safe_pickle

MARKER = "/tmp/counterfactory-pwned"


class Evil:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


@pytest.fixture(autouse=True)
def no_marker():
    if os.path.exists(MARKER):
        os.unlink(MARKER)
    yield
    assert not os.path.exists(MARKER), "a file ran code while being loaded"


def test_humoto_pickle_that_would_run_a_command_is_refused(tmp_path):
    from datagen.humans.humoto import SequenceError, load_sequence

    seq = tmp_path / "evil"
    seq.mkdir()
    (seq / "evil.pkl").write_bytes(pickle.dumps({"armature": [Evil()], "objects": {}}))
    with pytest.raises(SequenceError, match="refusing to load posix.system|refusing to load os.system"):
        load_sequence(seq)
    plain = {"armature": [{"b": [1.0, 0, 0, 0, 0.1, 0.2, 0.3]}], "objects": {"cup": np.zeros((1, 7))}}
    assert safe_pickle.loads(pickle.dumps(plain))["armature"][0]["b"][4] == 0.1
    with pytest.raises(safe_pickle.UnsafePickleError):
        safe_pickle.loads(pickle.dumps(Evil()))


def test_smplx_models_are_read_without_pickle(tmp_path):
    from datagen.humans import smplx_body as sb
    from smplx_stand_in import write_random_smplx_model

    model = write_random_smplx_model(tmp_path / "SMPLX_NEUTRAL.npz")
    arrays = dict(np.load(model))
    arrays["notes"] = np.array([Evil()], dtype=object)  # an object array: needs pickle to read
    np.savez(tmp_path / "SMPLX_MALE.npz", **arrays)
    safe = sb.safe_model_npz(tmp_path / "SMPLX_MALE.npz")
    with np.load(safe, allow_pickle=False) as data:
        assert "notes" not in data.files and "v_template" in data.files
    (tmp_path / "pkl").mkdir()
    (tmp_path / "pkl" / "SMPLX_NEUTRAL.pkl").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ValueError, match="can run code"):
        sb.SmplxBody(tmp_path / "pkl")


def test_checkpoint_rank_state_loads_without_code(tmp_path):
    from training.core import checkpoint as ckpt
    from training.core.runtime import init_runtime
    from training.core.sections import OptimConfig
    from training.trainer.optim import build_scheduler

    rt = init_runtime("cpu", "fp32")
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    sched = build_scheduler(opt, OptimConfig.defaults(lr=1e-3, warmup_steps=0, min_lr_ratio=0.0), 10)
    path = ckpt.save(tmp_path, 1, model, opt, sched, None, {"epoch": 0, "position": 3}, rt)
    step, data = ckpt.load(path, model, opt, sched, None, rt)
    assert step == 1 and data == {"epoch": 0, "position": 3}
    buf = io.BytesIO()
    torch.save({"scheduler": Evil()}, buf)
    (path / "rank-00000.pt").write_bytes(buf.getvalue())
    with pytest.raises(pickle.UnpicklingError):
        ckpt.load(path, model, opt, sched, None, rt)


def _toy(tmp_path):
    from datagen.runner import load_config, run

    out = tmp_path / "toy"
    assert run(load_config("toy_shapes", [f"out={out}", "num_samples=4", "samples_per_shard=2",
                                           "runner.mode=local", "runner.progress=false"])).ok
    return out


def test_unsafe_member_names_and_truncated_shards_are_one_clear_error(tmp_path):
    from datagen.dataset.reader import DataError, SampleStream, iter_samples
    from datagen.runner.validate import validate

    out = _toy(tmp_path)
    tar = out / "shard-000001.tar"
    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w") as t:
        info = tarfile.TarInfo("../../00000002.caption.txt")
        info.size = 3
        t.addfile(info, io.BytesIO(b"bad"))
    tar.write_bytes(evil.getvalue())
    with pytest.raises(DataError, match=r"shard-000001.tar: corrupt or truncated shard \(UnsafeTarError"):
        list(iter_samples(str(out)))
    lines = []
    validate(str(out), emit=lines.append)
    assert any("shard-000001.tar" in line and "unsafe tar member" in line for line in lines)

    good = _toy(tmp_path / "again")
    data = (good / "shard-000000.tar").read_bytes()
    (good / "shard-000000.tar").write_bytes(data[: len(data) // 2])  # truncated
    with pytest.raises(DataError, match="shard-000000.tar: corrupt or truncated shard") as e:
        stream = iter(SampleStream(str(good), None, shuffle=False))  # the trainers' reader
        [next(stream) for _ in range(4)]
    assert "\n" not in str(e.value)
    # audit and export read through the same reader: the same one line (a toy set relabelled as VOID)
    summary = json.loads((good / "dataset.json").read_text())
    (good / "dataset.json").write_text(json.dumps({**summary, "generator": "datagen.void_counterfactuals"}))
    from datagen.audit import collect
    from datagen.dataset.export import export_void

    for call in (lambda: collect(str(good)), lambda: export_void(str(good), tmp_path / "export")):
        with pytest.raises(DataError, match="shard-000000.tar: corrupt or truncated shard"):
            call()
