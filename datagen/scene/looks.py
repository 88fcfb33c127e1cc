"""Procedural looks for Blender: material presets, floor and wall textures, sky lighting.

Everything is built from shader nodes, so scenes look plausible without a single image file.
Patterns use object coordinates, so they stick to moving objects.
"""
from __future__ import annotations

import math

from datagen.scene.build import srgb_to_linear
from datagen.scene.spec import EnvironmentSpec, MaterialSpec

# the HDRI lighting maps are 1024 px wide: an importance map that resolves their small bright sources
# (lamps, windows) samples them without fireflies
HDRI_MAP_RESOLUTION = 512

# preset -> Principled BSDF inputs (Blender 4.x socket names)
PRESETS: dict[str, dict[str, float]] = {
    "rubber": {"Roughness": 0.85, "Specular IOR Level": 0.25},
    "metal": {"Roughness": 0.25, "Metallic": 1.0},
    "plastic": {"Roughness": 0.35, "Specular IOR Level": 0.5},
    "wood": {"Roughness": 0.55, "Specular IOR Level": 0.35},
    "ceramic": {"Roughness": 0.2, "Coat Weight": 0.6, "Coat Roughness": 0.05},
    "glass": {"Roughness": 0.02, "Transmission Weight": 1.0, "IOR": 1.45},
    "mirror": {"Roughness": 0.0, "Metallic": 1.0},
}


def _rgba(color) -> tuple[float, float, float, float]:
    return (*srgb_to_linear(color).tolist(), 1.0)


def _bsdf(mat):
    return mat.node_tree.nodes["Principled BSDF"]


def _object_coords(tree, scale: float, world: bool = False):
    """Texture coordinates scaled to ``scale`` pattern units per metre: object space (patterns
    move with the object), or world space for static scaled geometry such as the floor."""
    mapping = tree.nodes.new("ShaderNodeMapping")
    mapping.inputs["Scale"].default_value = (scale, scale, scale)
    if world:
        tree.links.new(tree.nodes.new("ShaderNodeNewGeometry").outputs["Position"], mapping.inputs["Vector"])
    else:
        tree.links.new(tree.nodes.new("ShaderNodeTexCoord").outputs["Object"], mapping.inputs["Vector"])
    return mapping.outputs["Vector"]


def _two_tone(tree, factor_socket, color_a, color_b):
    ramp = tree.nodes.new("ShaderNodeValToRGB")
    ramp.color_ramp.elements[0].color = _rgba(color_a)
    ramp.color_ramp.elements[1].color = _rgba(color_b)
    tree.links.new(factor_socket, ramp.inputs["Fac"])
    return ramp.outputs["Color"]


def _darker(color, factor=0.55):
    return tuple(min(1.0, c * factor) for c in color)


def _bump(tree, height_socket, strength: float, target):
    bump = tree.nodes.new("ShaderNodeBump")
    bump.inputs["Strength"].default_value = strength
    tree.links.new(height_socket, bump.inputs["Height"])
    tree.links.new(bump.outputs["Normal"], target.inputs["Normal"])


def _wood_grain(tree, spec: MaterialSpec, bsdf, rings_per_metre: float = 25.0, world: bool = False):
    wave = tree.nodes.new("ShaderNodeTexWave")
    wave.wave_type = "RINGS"
    wave.inputs["Distortion"].default_value = 6.0
    wave.inputs["Detail"].default_value = 2.0
    tree.links.new(_object_coords(tree, rings_per_metre / 10.0 / spec.texture_scale, world), wave.inputs["Vector"])
    tree.links.new(_two_tone(tree, wave.outputs["Fac"], spec.color, _darker(spec.color)),
                   bsdf.inputs["Base Color"])


def style_material(mat, spec: MaterialSpec) -> None:
    """Turn a Kubric Principled material into the preset's look (in place)."""
    tree, bsdf = mat.node_tree, _bsdf(mat)
    for socket, value in PRESETS[spec.preset].items():
        bsdf.inputs[socket].default_value = value
    if spec.roughness is not None:
        bsdf.inputs["Roughness"].default_value = spec.roughness
    if spec.emission > 0:
        bsdf.inputs["Emission Color"].default_value = _rgba(spec.color)
        bsdf.inputs["Emission Strength"].default_value = spec.emission
    if spec.preset == "wood":
        _wood_grain(tree, spec, bsdf)
    elif spec.preset == "rubber":
        noise = tree.nodes.new("ShaderNodeTexNoise")
        noise.inputs["Scale"].default_value = 4.0
        tree.links.new(_object_coords(tree, 40.0 / spec.texture_scale), noise.inputs["Vector"])
        _bump(tree, noise.outputs["Fac"], 0.08, bsdf)


def floor_material(bpy, env: EnvironmentSpec, image: str | None = None):
    """A node material for the floor from ``env.floor`` and its two colours (``photo``: the surface
    image ``image``, one tile every ``env.floor_scale`` metres)."""
    mat = bpy.data.materials.new("floor_" + env.floor)
    mat.use_nodes = True
    tree, bsdf = mat.node_tree, _bsdf(mat)
    a, b = env.floor_colors
    scale = 1.0 / env.floor_scale
    bsdf.inputs["Base Color"].default_value = _rgba(a)
    if env.floor == "checker":
        tex = tree.nodes.new("ShaderNodeTexChecker")
        tex.inputs["Color1"].default_value = _rgba(a)
        tex.inputs["Color2"].default_value = _rgba(b)
        tex.inputs["Scale"].default_value = 2.0  # 0.5 m squares at floor_scale 1
        tree.links.new(_object_coords(tree, 1.0 * scale, world=True), tex.inputs["Vector"])
        tree.links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
        bsdf.inputs["Roughness"].default_value = 0.55
    elif env.floor == "tiles":
        tex = tree.nodes.new("ShaderNodeTexBrick")
        tex.inputs["Color1"].default_value = _rgba(a)
        tex.inputs["Color2"].default_value = _rgba(_darker(a, 0.9))
        tex.inputs["Mortar"].default_value = _rgba(b)
        tex.inputs["Mortar Size"].default_value = 0.01
        tex.inputs["Scale"].default_value = 1.0
        tex.inputs["Brick Width"].default_value = 0.4  # 40 cm square tiles at floor_scale 1
        tex.inputs["Row Height"].default_value = 0.4
        tex.offset = 0.0
        tree.links.new(_object_coords(tree, scale, world=True), tex.inputs["Vector"])
        tree.links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
        bsdf.inputs["Roughness"].default_value = 0.3
    elif env.floor == "wood":  # planks (long bricks in two tones) with a fine grain on top
        planks = tree.nodes.new("ShaderNodeTexBrick")
        planks.inputs["Color1"].default_value = _rgba(a)
        planks.inputs["Color2"].default_value = _rgba(b)
        planks.inputs["Mortar"].default_value = _rgba(_darker(b, 0.6))
        planks.inputs["Mortar Size"].default_value = 0.004
        planks.inputs["Brick Width"].default_value = 1.2
        planks.inputs["Row Height"].default_value = 0.15
        planks.inputs["Scale"].default_value = 1.0
        planks.offset, planks.offset_frequency = 0.37, 1
        coords = _object_coords(tree, scale, world=True)
        tree.links.new(coords, planks.inputs["Vector"])
        grain = tree.nodes.new("ShaderNodeTexWave")
        grain.inputs["Scale"].default_value = 40.0
        grain.inputs["Distortion"].default_value = 4.0
        tree.links.new(coords, grain.inputs["Vector"])
        mix = tree.nodes.new("ShaderNodeMix")
        mix.data_type, mix.blend_type = "RGBA", "MULTIPLY"
        mix.inputs["Factor"].default_value = 0.25
        tree.links.new(planks.outputs["Color"], mix.inputs["A"])
        tree.links.new(grain.outputs["Color"], mix.inputs["B"])
        tree.links.new(mix.outputs["Result"], bsdf.inputs["Base Color"])
        bsdf.inputs["Roughness"].default_value = 0.45
    elif env.floor == "concrete":
        noise = tree.nodes.new("ShaderNodeTexNoise")
        noise.inputs["Scale"].default_value = 3.0
        noise.inputs["Detail"].default_value = 8.0
        tree.links.new(_object_coords(tree, scale, world=True), noise.inputs["Vector"])
        tree.links.new(_two_tone(tree, noise.outputs["Fac"], a, b), bsdf.inputs["Base Color"])
        _bump(tree, noise.outputs["Fac"], 0.15, bsdf)
        bsdf.inputs["Roughness"].default_value = 0.9
    elif env.floor == "marble":
        wave = tree.nodes.new("ShaderNodeTexWave")
        wave.inputs["Distortion"].default_value = 14.0
        wave.inputs["Detail"].default_value = 8.0
        wave.inputs["Detail Roughness"].default_value = 0.75
        wave.inputs["Detail Scale"].default_value = 3.0
        tree.links.new(_object_coords(tree, 0.08 * scale, world=True), wave.inputs["Vector"])
        tree.links.new(_two_tone(tree, wave.outputs["Fac"], a, b), bsdf.inputs["Base Color"])
        bsdf.inputs["Roughness"].default_value = 0.08
    elif env.floor == "photo":
        tex = tree.nodes.new("ShaderNodeTexImage")
        tex.image = bpy.data.images.load(image, check_existing=True)
        tex.extension = "REPEAT"
        tree.links.new(_object_coords(tree, 1.0 / env.floor_scale, world=True), tex.inputs["Vector"])
        tree.links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
        bsdf.inputs["Roughness"].default_value = 0.35
    elif env.floor == "mirror":
        bsdf.inputs["Metallic"].default_value = 1.0
        bsdf.inputs["Roughness"].default_value = 0.02
    else:  # plain
        bsdf.inputs["Roughness"].default_value = 0.6
    if env.floor_roughness is not None:
        bsdf.inputs["Roughness"].default_value = env.floor_roughness
    return mat


def wall_material(bpy, env: EnvironmentSpec, name: str = "wall_back"):
    """Painted plaster, or a clean mirror for the back wall when ``env.wall_finish`` says so."""
    mirror = env.wall_finish == "mirror" and name == "wall_back"
    mat = bpy.data.materials.new(name + ("_mirror" if mirror else ""))
    mat.use_nodes = True
    bsdf = _bsdf(mat)
    if mirror:
        bsdf.inputs["Base Color"].default_value = _rgba((0.92, 0.92, 0.92))
        bsdf.inputs["Metallic"].default_value = 1.0
        bsdf.inputs["Roughness"].default_value = 0.0
        return mat
    bsdf.inputs["Base Color"].default_value = _rgba(env.wall_color)
    bsdf.inputs["Roughness"].default_value = 0.8
    return mat


def light_world(bpy, renderer, env: EnvironmentSpec, hdri_files: tuple[str, str] | None = None) -> None:
    """Sky, HDRI or flat colour for both camera rays and lighting (Kubric's two world branches).
    ``hdri_files``: (map that lights the scene, map the camera sees) of an HDRI asset; ``env.hdri_path``
    alone uses one file for both."""
    # Cycles rebuilds the world's importance map for every render (every frame and view layer);
    # at its automatic size that costs ~1 s a frame. A small map samples a smooth sky just as well.
    world = renderer.blender_scene.world
    world.cycles.sampling_method = "MANUAL"
    world.cycles.sample_map_resolution = HDRI_MAP_RESOLUTION if env.background == "hdri" else 128
    if env.background == "hdri":
        rotation = (0.0, 0.0, env.hdri_rotation)
        lighting, backdrop = hdri_files or (env.hdri_path, env.hdri_path)
        renderer._set_ambient_light_hdri(lighting, rotation, env.strength)
        renderer._set_background_hdri(backdrop, rotation)
        renderer.bg_node.inputs["Strength"].default_value = env.strength
        return
    tree = renderer.blender_scene.world.node_tree
    if env.background == "color":
        source = None
        for node in (renderer.ambient_node, renderer.bg_node):
            node.inputs["Color"].default_value = _rgba(env.color)
    else:
        source = tree.nodes.new("ShaderNodeTexSky")
        source.sky_type = "NISHITA"
        source.sun_disc = False  # the sun lamp casts the sharp shadows; the sky fills
        source.sun_elevation = env.sun_elevation
        source.sun_rotation = env.sun_rotation
        source.air_density = 1.0
        source.dust_density = 1.0
    for node in (renderer.ambient_node, renderer.bg_node):
        if source is not None:
            tree.links.new(source.outputs["Color"], node.inputs["Color"])
        # Nishita's sky is physically bright; this scale puts it beside a ~3 W/m^2 sun lamp.
        node.inputs["Strength"].default_value = env.strength * (0.08 if source is not None else 1.0)


def sun_direction(env: EnvironmentSpec) -> tuple[float, float, float]:
    """Unit vector towards the sky's sun, so the sun lamp agrees with the sky's bright side."""
    e, r = env.sun_elevation, env.sun_rotation
    return (math.cos(e) * math.sin(r), -math.cos(e) * math.cos(r), math.sin(e))
