"""``python -m datagen.validate``: clean data passes; corrupt, truncated, incomplete or wrong data is
reported one line per failure without crashing."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile

import numpy as np
import pytest

from datagen.runner import run
from datagen.dataset.sample_io import encode_npy, iter_tar, tar_writer
from datagen.runner.validate import main, validate
from runner_helpers import toy_config


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "toy"
    assert run(toy_config(out)).ok
    return out


@pytest.fixture
def copy(dataset, tmp_path):
    out = tmp_path / "toy"
    shutil.copytree(dataset, out)
    return out


def check(out) -> tuple[int, int, list[str]]:
    lines = []
    passed, failed = validate(str(out), emit=lines.append)
    assert failed == len(lines)
    return passed, failed, lines


def test_clean_dataset_passes(dataset, capsys):
    assert check(dataset) == (10, 0, [])
    assert main([str(dataset)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "10 passed, 0 failed"


def rewrite_mask(out, tar_name: str, key: str, value: int) -> None:
    """Repack a shard with one pixel of one sample's mask set to ``value``; keep its stats consistent
    so that only the content check can notice."""
    path = out / tar_name
    buf = io.BytesIO()
    with path.open("rb") as f, tar_writer(buf) as tar:
        for k, files in iter_tar(f):
            if k == key:
                mask = np.load(io.BytesIO(gzip.decompress(files["mask.npy.gz"])))
                mask[2, 5, 5] = value
                files["mask.npy.gz"] = encode_npy(mask, compress=True)
            tar.write({"__key__": k, **files})
    path.write_bytes(buf.getvalue())
    stats_path = out / tar_name.replace(".tar", ".stats.json")
    stats = json.loads(stats_path.read_text())
    stats.update(bytes=len(buf.getvalue()), sha256=hashlib.sha256(buf.getvalue()).hexdigest())
    stats_path.write_text(json.dumps(stats))


def test_mask_with_a_wrong_value_is_caught_by_the_generator_invariants(copy):
    rewrite_mask(copy, "shard-000001.tar", "00000004", 7)
    passed, failed, lines = check(copy)
    assert (passed, failed) == (9, 1)
    assert lines[0].startswith("shard-000001.tar 00000004: mask: values [7] outside the quadmask values")
    assert "pixels differ from the quadmask of boxes" in lines[0]


def test_truncated_tar_is_reported_not_crashed_on(copy):
    path = copy / "shard-000002.tar"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    passed, failed, lines = check(copy)
    assert any(line.startswith("shard-000002.tar: corrupt or truncated tar: ") for line in lines), lines
    assert passed < 10 and passed >= 7


def test_corrupt_header_and_corrupt_member_bytes_are_reported(copy):
    path = copy / "shard-000000.tar"
    with tarfile.open(path) as tar:
        member = tar.getmember("00000000.mask.npy.gz")
    data = bytearray(path.read_bytes())
    start = member.offset_data + member.size // 2
    data[start: start + 16] = bytes(255 - b for b in data[start: start + 16])
    path.write_bytes(bytes(data))
    path = copy / "shard-000003.tar"
    data = bytearray(path.read_bytes())
    data[0:20] = b"garbage-header-bytes"
    path.write_bytes(bytes(data))
    passed, failed, lines = check(copy)
    assert any(line.startswith("shard-000000.tar 00000000: mask: cannot decode .npy.gz") for line in lines), lines
    assert "shard-000000.tar: size or sha256 differs from its stats file (changed after it was written)" in lines
    assert any(line.startswith("shard-000003.tar: corrupt or truncated tar: ") for line in lines), lines
    assert passed == 10 - 1 - 1  # sample 0 and the one sample of shard 3


def test_missing_shard_stats_and_samples_are_reported(copy):
    (copy / "shard-000003.tar").unlink()
    (copy / "shard-000001.stats.json").unlink()
    passed, failed, lines = check(copy)
    assert lines == ["shard-000001.tar: no stats file: the shard is incomplete (rerun the generator)",
                     "shard-000003.tar: missing (samples 9-9)"]
    assert passed == 9


def test_cli_exit_codes(copy, tmp_path):
    rewrite_mask(copy, "shard-000000.tar", "00000001", 200)
    proc = subprocess.run([sys.executable, "-m", "datagen.validate", str(copy)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[-1] == "9 passed, 1 failed"
    assert proc.stdout.splitlines()[0].startswith("shard-000000.tar 00000001: mask: values [200]")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([str(empty)]) == 2
