"""One check per Blender 4.5 fix; each raises when its fix is missing.

``tests/test_blender45.py`` runs every check in-process with all fixes applied, and again in a
subprocess with just that fix left out, where it must fail: so no fix is untested and no test
passes vacuously.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import trimesh

from datagen.kubric_compat import kb


def _renderer(width=32, height=24):
    from kubric.renderer.blender import Blender
    scene = kb.Scene(resolution=(width, height), frame_start=1, frame_end=1)
    renderer = Blender(scene, samples_per_pixel=1, use_denoising=False)
    scene.camera = kb.PerspectiveCamera(position=(0, -4, 0), look_at=(0, 0, 0))
    scene.add(kb.DirectionalLight(position=(0, -3, 3), look_at=(0, 0, 0), intensity=3))
    return scene, renderer


def _obj_file(folder: Path, with_normals: bool) -> Path:
    mesh = trimesh.creation.icosphere(subdivisions=2, radius=1.0)
    path = folder / "sphere.obj"
    path.write_text(trimesh.exchange.obj.export_obj(mesh, include_normals=with_normals))
    return path


def check_principled_sockets():
    scene, renderer = _renderer()
    mat = kb.PrincipledBSDFMaterial(color=kb.Color(0.2, 0.4, 0.6, 1), specular=0.2, transmission=0.5,
                                    emission=kb.Color(1, 0, 0, 1), specular_tint=1.0)
    scene.add(kb.Cube(material=mat))
    bsdf = mat.linked_objects[renderer].node_tree.nodes["Principled BSDF"]
    assert abs(bsdf.inputs["Specular IOR Level"].default_value - 0.2) < 1e-6
    assert abs(bsdf.inputs["Transmission Weight"].default_value - 0.5) < 1e-6
    assert tuple(bsdf.inputs["Emission Color"].default_value) == (1, 0, 0, 1)
    tint = np.array(bsdf.inputs["Specular Tint"].default_value[:3])
    assert np.allclose(tint, [0.2, 0.4, 0.6], atol=1e-6), tint


def _render_cube_layers():
    from kubric.renderer import blender_utils
    scene, renderer = _renderer()
    cube = kb.Cube(scale=0.8)
    scene.add(cube)
    with tempfile.TemporaryDirectory() as tmp:
        renderer.set_exr_output_path(Path(tmp) / "frame_")
        import bpy
        bpy.context.scene.render.filepath = str(Path(tmp) / "x.png")
        bpy.ops.render.render(animation=False, write_still=False)
        layers = blender_utils.get_render_layers_from_exr(Path(tmp) / "frame_0001.exr")
    return cube, layers


def check_vector_pass():
    """A cube sliding right: forward flow at its centre points right and has no vertical part."""
    from kubric.renderer import blender_utils
    import bpy
    scene, renderer = _renderer()
    scene.frame_end = 3
    cube = kb.Cube(scale=0.5)
    scene.add(cube)
    for frame, x in ((1, -0.5), (2, 0.0), (3, 0.5)):
        cube.position = (x, 0, 0)
        cube.keyframe_insert("position", frame)
    with tempfile.TemporaryDirectory() as tmp:
        renderer.set_exr_output_path(Path(tmp) / "frame_")
        bpy.context.scene.frame_set(2)
        bpy.context.scene.render.filepath = str(Path(tmp) / "x.png")
        bpy.ops.render.render(animation=False, write_still=False)
        layers = blender_utils.get_render_layers_from_exr(Path(tmp) / "frame_0002.exr")
    d_row, d_col = layers["forward_flow"][12, 16]
    assert abs(d_row) < 0.1 and d_col > 3, (d_row, d_col)


def check_cryptomatte_channels():
    from kubric.renderer import blender_utils
    cube, layers = _render_cube_layers()
    centre = layers["segmentation_indices"][12, 16, 0]
    assert centre == blender_utils.mm3hash(cube.uid), "the cube's hash is not at the image centre"


def check_aov_name():
    _, layers = _render_cube_layers()
    coords = layers["object_coordinates"]
    assert coords[12, 16].max() > 0.05, "object coordinates are empty"


def check_obj_import():
    with tempfile.TemporaryDirectory() as tmp:
        scene, renderer = _renderer()
        obj = kb.FileBasedObject(asset_id="sphere", render_filename=str(_obj_file(Path(tmp), False)))
        scene.add(obj)
        mesh = obj.linked_objects[renderer].data
        assert len(mesh.vertices) == 162, len(mesh.vertices)


def check_auto_smooth():
    with tempfile.TemporaryDirectory() as tmp:
        scene, renderer = _renderer()
        obj = kb.FileBasedObject(asset_id="sphere", render_filename=str(_obj_file(Path(tmp), True)))
        scene.add(obj)
        assert not obj.linked_objects[renderer].data.has_custom_normals, "file normals still override"


LEAK_REPORT = "Not freed memory blocks"  # what Blender prints (to stdout) at exit if blocks leaked


def check_exr_slots():
    """A process that built a Kubric renderer and rendered exits without Blender's leak report.

    Only a fresh process can show it (the report comes at exit), so this runs one with the same
    fixes as this one."""
    from datagen.kubric_compat import blender45
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            f"from datagen.kubric_compat import blender45; blender45.apply({sorted(blender45.applied())!r}); "
            "import blender45_checks; blender45_checks._render_cube_layers()")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert LEAK_REPORT not in result.stdout + result.stderr, result.stdout[-500:]


if __name__ == "__main__":
    # usage: python tests/blender45_checks.py FIX_TO_LEAVE_OUT CHECK
    from datagen.kubric_compat import blender45
    blender45.apply([f for f in blender45.FIXES if f != sys.argv[1]])
    globals()[f"check_{sys.argv[2]}"]()
