"""The TensorFlow stand-in: Kubric imports and copies files without TensorFlow installed."""
import importlib.util
import subprocess
import sys
import sysconfig

import numpy as np
import pytest

from datagen.kubric_compat import TF_STAND_IN, kb, tf_gfile

NO_TF = importlib.util.find_spec("tensorflow") is None or TF_STAND_IN
BARE_IMPORT = """
import importlib.util, sys
assert importlib.util.find_spec("tensorflow") is None  # nobody but Kubric is told TensorFlow exists
import kubric, tensorflow
from kubric import file_io
assert tensorflow.__counterfactory_stand_in__ and "datagen" not in sys.modules
"""


@pytest.mark.skipif(not NO_TF, reason="real TensorFlow is installed")
def test_bare_import_kubric_in_a_fresh_interpreter():
    """This environment's start-up hook gives a bare ``import kubric`` the stand-in."""
    result = subprocess.run([sys.executable, "-c", BARE_IMPORT], capture_output=True, text=True)
    assert result.returncode == 0, (
        f"{result.stderr[-1500:]}\nimport Kubric through counterfactory (from datagen.kubric_compat "
        "import kb), or install the start-up hook once: python -c 'from datagen.kubric_compat import "
        "tf_gfile; tf_gfile.install_startup_hook()'")


@pytest.mark.skipif(not NO_TF, reason="real TensorFlow is installed")
def test_startup_hook(tmp_path):
    """The hook on its own (no site-packages hooks, no counterfactory import), as at start-up."""
    assert tf_gfile.install_startup_hook(tmp_path).name == tf_gfile.STARTUP_HOOK
    code = (f"import sys, site; sys.path.append({sysconfig.get_paths()['purelib']!r}); "
            f"site.addsitedir({str(tmp_path)!r})\n{BARE_IMPORT}")
    result = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    without = subprocess.run([sys.executable, "-S", "-c", code.replace("site.addsitedir", "print")],
                             capture_output=True, text=True)
    assert without.returncode != 0 and "No module named 'tensorflow'" in without.stderr


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
