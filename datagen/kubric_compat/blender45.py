"""Kubric's Blender renderer on Blender 4.5 (bpy 4.5 LTS).

Kubric targets Blender 2.93 and breaks in five places on 4.x. ``apply()`` fixes each one in place,
once per process, and is called when ``datagen.scene.render`` is imported:

1. ``principled_sockets``: Principled BSDF inputs were renamed in 4.0 (Specular -> Specular IOR
   Level, Transmission -> Transmission Weight, Emission -> Emission Color; Specular Tint became a
   colour; Transmission Roughness is gone and follows Roughness).
2. ``cryptomatte_channels``: multilayer EXRs name cryptomatte channels ``.r/.g/.b/.a`` instead of
   ``.R/.G/.B/.A``, so Kubric finds no segmentation.
3. ``aov_name``: an AOV output node writes to the AOV named by ``aov_name`` (no longer its node
   name), so Kubric's object-coordinates pass came out all zero.
4. ``obj_import``: the legacy ``import_scene.obj`` operator is gone; use ``wm.obj_import``.
5. ``auto_smooth``: ``Mesh.use_auto_smooth`` is gone (4.1). Kubric switched it off so that custom
   normals in a file were ignored; on 4.1+ custom normals always apply, so we clear them instead.

and two we found (not in the usual lists):

6. ``vector_pass``: the Vector (motion) pass is a 4-component vector socket now; Kubric routes it
   through a colour split/combine, which forces the 4th component to 1, so *forward* flow came out
   as a constant. We link the pass straight to the EXR (channels X, Y, Z, W) and read those.
7. ``exr_slots``: every process that had built a Kubric renderer ended with Blender's
   ``Error: Not freed memory blocks: 1, total unfreed memory 0.001366 MB`` at exit, whether it
   succeeded or raised. Kubric's ``set_up_exr_output_node`` empties its File Output node with
   ``file_slots.clear()``; in Blender 4.5 removing a File Output slot through the Python API
   (``file_slots.clear``/``remove``, ``layer_slots`` too) frees the socket but not the slot's own
   storage (a ``NodeImageMultiFileSocket``), so every removed slot is one block that Blender's
   leak detector reports when bpy shuts down (two removed slots: two blocks). Removing the whole
   node frees its slots. We build the same node (same layers, same EXR channels) without removing
   a slot: the slot a new node comes with is renamed to the first layer and the others are added.
"""
from __future__ import annotations

import functools
import io
import sys
from contextlib import redirect_stdout

import numpy as np

from datagen.kubric_compat import kb  # noqa: F401  (TensorFlow stand-in before kubric)
from kubric import core
from kubric.redirect_io import RedirectStream
from kubric.renderer import blender as kb_blender
from kubric.renderer import blender_utils
from kubric.renderer.blender import AttributeSetter, KeyframeSetter, register_object3d_setters
from kubric.safeimport.bpy import bpy

FIXES = ("principled_sockets", "cryptomatte_channels", "aov_name", "obj_import", "auto_smooth",
         "vector_pass", "exr_slots")
_applied: set[str] = set()
_originals: dict[str, object] = {}

# Kubric material property -> (Blender 4.x socket, converter from Kubric's value or None to skip).
_PRINCIPLED = {
    "color": ("Base Color", None),
    "roughness": ("Roughness", None),
    "metallic": ("Metallic", None),
    "ior": ("IOR", None),
    "specular": ("Specular IOR Level", None),
    "transmission": ("Transmission Weight", None),
    "emission": ("Emission Color", None),
}


def _observe(asset, target, attribute: str, prop: str, converter=None) -> None:
    asset.observe(AttributeSetter(target, attribute, converter=converter), prop)
    asset.observe(KeyframeSetter(target, attribute), prop, type="keyframe")


def _add_principled_material(self, obj: core.PrincipledBSDFMaterial):
    mat = bpy.data.materials.new(obj.uid)
    mat.use_nodes = True
    bsdf = mat.node_tree.nodes["Principled BSDF"]
    for prop, (socket, converter) in _PRINCIPLED.items():
        _observe(obj, bsdf.inputs[socket], "default_value", prop, converter)
    # Specular Tint is a colour now: 0 -> white highlights, 1 -> highlights in the base colour.
    tint = bsdf.inputs["Specular Tint"]

    def tinted(value):
        base = np.asarray(bsdf.inputs["Base Color"].default_value[:3])
        return (*((1.0 - value) + value * base), 1.0)

    _observe(obj, tint, "default_value", "specular_tint", tinted)
    # Emission only glows with a strength; Kubric's emission colour carried the strength itself.
    bsdf.inputs["Emission Strength"].default_value = 1.0
    return mat


def _fix_principled_sockets() -> None:
    registry = kb_blender.Blender.__dict__["add_asset"].dispatcher
    _originals["principled_sockets"] = registry.registry[core.PrincipledBSDFMaterial]
    registry.register(core.PrincipledBSDFMaterial,
                      blender_utils.prepare_blender_object(_add_principled_material))


_XYZW = {"R": "X", "G": "Y", "B": "Z", "A": "W"}


def _exr_channel(header_channels, name: str) -> str:
    if name in header_channels:
        return name
    layer, _, channel = name.rpartition(".")
    for candidate in (f"{layer}.{channel.lower()}", f"{layer}.{channel.upper()}",
                      f"{layer}.{_XYZW.get(channel.upper(), channel)}"):
        if candidate in header_channels:
            return candidate
    return name


def _fix_cryptomatte_channels() -> None:
    original = blender_utils.read_channels_from_exr
    _originals["cryptomatte_channels"] = original

    @functools.wraps(original)
    def read_channels_from_exr(exr, channel_names):
        header = exr.header()["channels"]
        return original(exr, [_exr_channel(header, n) for n in channel_names])

    blender_utils.read_channels_from_exr = read_channels_from_exr


def _fix_aov_name() -> None:
    original = blender_utils.add_coordinate_material
    _originals["aov_name"] = original

    @functools.wraps(original)
    def add_coordinate_material():
        mat = original()
        for node in mat.node_tree.nodes:
            if node.bl_idname == "ShaderNodeOutputAOV":
                node.aov_name = node.name
        return mat

    blender_utils.add_coordinate_material = add_coordinate_material


_LEGACY_AXES = {"X": "X", "Y": "Y", "Z": "Z", "-X": "NEGATIVE_X", "-Y": "NEGATIVE_Y",
                "-Z": "NEGATIVE_Z"}


def _obj_import_kwargs(legacy: dict) -> dict:
    """Translate the legacy importer's kwargs (as GSO/KuBasic manifests store them)."""
    kwargs = {"forward_axis": "Y", "up_axis": "Z"}
    for key, value in (legacy or {}).items():
        if key == "axis_forward":
            kwargs["forward_axis"] = _LEGACY_AXES[value]
        elif key == "axis_up":
            kwargs["up_axis"] = _LEGACY_AXES[value]
        elif key in ("use_split_objects", "use_split_groups", "global_scale", "clamp_size"):
            kwargs[key] = value
    kwargs.update(use_split_objects=False, use_split_groups=False)
    return kwargs


def _import_obj(self, obj: core.FileBasedObject):
    if obj.render_filename is None or not str(obj.render_filename).endswith(".obj"):
        return _originals["obj_import"](self, obj)
    with RedirectStream(stream=sys.stdout, disabled=self.verbose):
        with io.StringIO() as buffer, redirect_stdout(buffer):
            bpy.ops.object.select_all(action="DESELECT")
            bpy.ops.wm.obj_import(filepath=str(obj.render_filename),
                                  **_obj_import_kwargs(obj.render_import_kwargs))
    if len(bpy.context.selected_objects) != 1:
        raise RuntimeError(f"{obj.render_filename}: expected one mesh, got "
                           f"{len(bpy.context.selected_objects)}")
    blender_obj = bpy.context.selected_objects[0]
    _drop_custom_normals(blender_obj)
    register_object3d_setters(obj, blender_obj)
    _observe(obj, blender_obj, "scale", "scale")
    obj.observe(AttributeSetter(blender_obj, "active_material",
                                converter=self._convert_to_blender_object), "material")
    return blender_obj


def _drop_custom_normals(blender_obj) -> None:
    """What ``use_auto_smooth = False`` meant before 4.1: shade from the polygons, not file normals."""
    if "auto_smooth" in _applied and blender_obj.type == "MESH" and blender_obj.data.has_custom_normals:
        blender_obj.data.normals_split_custom_set([(0.0, 0.0, 0.0)] * len(blender_obj.data.loops))
        if blender_obj.data.has_custom_normals:  # an all-zero set clears them; be sure
            with blender_utils.selected(blender_obj):
                bpy.ops.mesh.customdata_custom_splitnormals_clear()


def _fix_obj_import() -> None:
    registry = kb_blender.Blender.__dict__["add_asset"].dispatcher
    _originals["obj_import"] = registry.registry[core.FileBasedObject]
    registry.register(core.FileBasedObject, blender_utils.prepare_blender_object(_import_obj))


def _exr_output_node(default_layers=("Image", "Depth"),
                     aux_layers=("UV", "Normal", "CryptoObject00", "ObjectCoordinates"),
                     motion_blur=None):
    """Kubric's ``set_up_exr_output_node``, built without removing a File Output slot (fix 7)."""
    tree = _compositor_tree()
    for node in list(tree.nodes):
        tree.nodes.remove(node)  # removing a whole node frees its slots
    render_layers = tree.nodes.new(type="CompositorNodeRLayers")
    aux = tree.nodes.new(type="CompositorNodeRLayers")
    aux.name = "Render Layers Aux"
    aux.layer = "AuxOutputs"
    out = tree.nodes.new(type="CompositorNodeOutputFile")
    out.format.file_format = "OPEN_EXR_MULTILAYER"
    names = [*default_layers, *aux_layers, "Vector"]
    # a new File Output node has one slot: rename it rather than remove it (removing leaks)
    out.inputs[0].name = out.layer_slots[0].name = out.file_slots[0].path = names[0]
    for name in names[1:]:
        out.file_slots.new(name)
    for source, layers in ((render_layers, default_layers), (aux, aux_layers)):
        for name in layers:
            tree.links.new(source.outputs.get(name), out.inputs.get(name))
    split = tree.nodes.new(type="CompositorNodeSepRGBA")  # Kubric's route; ``vector_pass`` replaces it
    combine = tree.nodes.new(type="CompositorNodeCombRGBA")
    for channel in "RGBA":
        tree.links.new(split.outputs.get(channel), combine.inputs.get(channel))
    tree.links.new(aux.outputs.get("Vector"), split.inputs.get("Image"))
    tree.links.new(combine.outputs.get("Image"), out.inputs.get("Vector"))
    if motion_blur is not None:
        blur = tree.nodes.new(type="CompositorNodeVecBlur")
        composite = tree.nodes.new(type="CompositorNodeComposite")
        blur.factor = float(motion_blur)
        blur.use_curved = True
        tree.links.new(render_layers.outputs.get("Image"), blur.inputs.get("Image"))
        tree.links.new(render_layers.outputs.get("Depth"), blur.inputs.get("Z"))
        tree.links.new(aux.outputs.get("Vector"), blur.inputs.get("Speed"))
        tree.links.remove(out.inputs.get("Image").links[0])
        tree.links.new(blur.outputs.get("Image"), out.inputs.get("Image"))
        tree.links.new(blur.outputs.get("Image"), composite.inputs.get("Image"))
    return out


def _compositor_tree():
    scene = bpy.context.scene
    scene.use_nodes = True
    return scene.node_tree


def _link_vector_pass(out) -> None:
    tree = _compositor_tree()
    vector = out.inputs.get("Vector")
    if vector is not None:
        for link in list(vector.links):
            tree.links.remove(link)
        tree.links.new(tree.nodes["Render Layers Aux"].outputs["Vector"], vector)


def _set_up_exr_output_node(*args, **kwargs):
    """Kubric's EXR output node with whichever of ``exr_slots`` and ``vector_pass`` are applied."""
    build = _exr_output_node if "exr_slots" in _applied else _originals["exr_output_node"]
    out = build(*args, **kwargs)
    if "vector_pass" in _applied:
        _link_vector_pass(out)
    return out


def _install_exr_output_node() -> None:
    """``vector_pass`` and ``exr_slots`` share one wrapper: either works alone, in any order."""
    if blender_utils.set_up_exr_output_node is not _set_up_exr_output_node:
        _originals["exr_output_node"] = blender_utils.set_up_exr_output_node
        blender_utils.set_up_exr_output_node = _set_up_exr_output_node


def _fix_auto_smooth() -> None:
    """Nothing to patch at import time: ``_import_obj`` consults ``_applied``."""


_FIXERS = {
    "principled_sockets": _fix_principled_sockets,
    "cryptomatte_channels": _fix_cryptomatte_channels,
    "aov_name": _fix_aov_name,
    "obj_import": _fix_obj_import,
    "auto_smooth": _fix_auto_smooth,
    "vector_pass": _install_exr_output_node,
    "exr_slots": _install_exr_output_node,
}


def apply(fixes=FIXES) -> None:
    """Apply the named fixes (all by default); each one at most once per process."""
    if bpy.app.version < (4, 1, 0):
        raise RuntimeError(f"counterfactory's Kubric fixes target Blender 4.1+, found {bpy.app.version}")
    for name in fixes:
        if name not in _applied:
            _FIXERS[name]()
            _applied.add(name)


def applied() -> frozenset[str]:
    return frozenset(_applied)
