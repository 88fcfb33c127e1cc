"""A process that renders in the main process exits cleanly: no Blender leak report, whether the run
succeeds or raises (``kubric_compat/blender45.py``, fix ``exr_slots``)."""
import subprocess
import sys

import pytest

from blender45_checks import LEAK_REPORT

pytestmark = pytest.mark.render

RENDER = """
import sys
from datagen.assets import open_asset_source
from datagen.scene.render import SceneRenderer
from datagen.scene.simulate import simulate
from datagen.scene.spec import CameraSpec, LightSpec, MaterialSpec, ObjectSpec, RenderSpec, SceneSpec

spec = SceneSpec(objects=[ObjectSpec("cube", "cube", MaterialSpec("plastic", (0.8, 0.2, 0.2)),
                                     position=(0, 0, 0.2))],
                 camera=CameraSpec(position=(0, -3, 1), look_at=(0, 0, 0.1), focal_length=35),
                 lights=[LightSpec("sun", position=(3, -1, 3), intensity=3.0)],
                 render=RenderSpec(width=32, height=24, spp=1, threads=1, seed=1), frames=2, fps=12)
source = open_asset_source(None)
with SceneRenderer(spec, source=source) as renderer:
    renderer.set_states(simulate(spec, source=source))
    out = renderer.render(layers=("rgb", "segmentation"))
    assert out["rgb"].shape == (2, 24, 32, 3) and out["segmentation"].max() == 1
    if sys.argv[1] == "raise":
        raise RuntimeError("a failing run")
print("rendered")
"""


@pytest.mark.parametrize("ending", ["succeed", "raise"])
def test_render_process_exits_without_leak_report(ending):
    result = subprocess.run([sys.executable, "-c", RENDER, ending], capture_output=True, text=True,
                            timeout=300)
    if ending == "succeed":
        assert result.returncode == 0, result.stderr[-2000:]
        assert "rendered" in result.stdout
    else:
        assert result.returncode == 1 and "RuntimeError: a failing run" in result.stderr, result.stderr[-2000:]
    # Blender prints the report to stdout when bpy shuts down; look in both streams
    assert LEAK_REPORT not in result.stdout + result.stderr, (result.stdout + result.stderr)[-1000:]
