"""The TensorFlow stand-in: Kubric imports and copies files without TensorFlow installed."""
import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from datagen.kubric_compat import TF_STAND_IN, kb

NO_TF = importlib.util.find_spec("tensorflow") is None or TF_STAND_IN


@pytest.mark.skipif(not NO_TF, reason="real TensorFlow is installed")
def test_kubric_needs_it():
    result = subprocess.run([sys.executable, "-c", "import kubric"], capture_output=True, text=True)
    assert result.returncode != 0 and "tensorflow" in result.stderr


@pytest.mark.skipif(not NO_TF, reason="real TensorFlow is installed")
def test_kubric_file_io_through_stand_in(tmp_path):
    import tensorflow as tf
    from kubric import file_io

    assert tf.__counterfactory_stand_in__
    file_io.write_json({"a": np.arange(3)}, tmp_path / "sub" / "x.json")
    assert file_io.read_json(tmp_path / "sub" / "x.json") == {"a": [0, 1, 2]}
    file_io.write_png(np.zeros((4, 5, 3), np.uint8), tmp_path / "img.png")
    assert file_io.read_png(tmp_path / "img.png").shape == (4, 5, 3)

    # copies between fsspec locations, as AssetSource.fetch and the renderer do
    tf.io.gfile.copy(tmp_path / "sub" / "x.json", "memory://cf/x.json")
    assert tf.io.gfile.exists("memory://cf/x.json")
    with pytest.raises(FileExistsError):
        tf.io.gfile.copy(tmp_path / "sub" / "x.json", "memory://cf/x.json")
    tf.io.gfile.copy("memory://cf/x.json", tmp_path / "back.json", overwrite=True)
    assert (tmp_path / "back.json").read_bytes() == (tmp_path / "sub" / "x.json").read_bytes()
    assert tf.io.gfile.glob(str(tmp_path / "*.json")) == [str(tmp_path / "back.json")]
    (found,) = tf.io.gfile.glob("memory://cf/*.json")
    assert found.startswith("memory://") and found.endswith("cf/x.json") and tf.io.gfile.exists(found)


def test_real_tensorflow_wins(tmp_path):
    fake = tmp_path / "tensorflow"
    fake.mkdir()
    (fake / "__init__.py").write_text("REAL = True\n")
    code = ("from datagen.kubric_compat import tf_gfile; import tensorflow as tf; "
            "assert tf_gfile.install() is False and tf.REAL")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
