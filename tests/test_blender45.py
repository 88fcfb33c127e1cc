"""Kubric on Blender 4.5: each fix works, and each check fails without its fix."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from datagen.kubric_compat import blender45
import blender45_checks as checks

pytestmark = pytest.mark.render

HERE = Path(__file__).parent


@pytest.fixture(scope="module", autouse=True)
def fixes():
    blender45.apply()
    assert blender45.applied() == set(blender45.FIXES)


def _without(fix: str, check: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=f"{HERE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    return subprocess.run([sys.executable, str(HERE / "blender45_checks.py"), fix, check],
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("fix", blender45.FIXES)
def test_fix_works(fix):
    getattr(checks, f"check_{fix}")()


@pytest.mark.parametrize("fix", blender45.FIXES)
def test_check_fails_without_fix(fix):
    result = _without(fix, fix)
    assert result.returncode != 0, f"check_{fix} passed without its fix:\n{result.stdout[-2000:]}"
    assert "Error" in result.stderr, result.stderr[-2000:]


def test_other_fixes_do_not_hide_a_missing_one():
    """Leaving out an unrelated fix keeps a check green (so the failures above are specific)."""
    result = _without("auto_smooth", "principled_sockets")
    assert result.returncode == 0, result.stderr[-2000:]
