"""Render passes of a ``SceneSpec`` with Blender Cycles (through Kubric's Blender view).

One ``SceneRenderer`` holds one Blender scene for one spec. World states (from ``simulate``) are
keyed onto its objects, and each ``render`` call is one pass: a visibility per object (visible,
hidden, or shadow-only: invisible to the camera but still casting shadows and showing in
reflections), the layers wanted, and optionally a subset of frames. A pass that asks for no
``rgb`` renders only Kubric's 1-sample label layer, which costs a fraction of a beauty render.

Importing this module applies the Blender 4.5 fixes (``blender45.apply``).

Layers returned (T = frames rendered):
  rgb            uint8  (T, H, W, 3)  sRGB after the view transform
  rgba           uint8  (T, H, W, 4)  the same beauty render with a transparent film: camera rays that
                 hit the sky are transparent (the sky still lights the scene); straight (not
                 premultiplied) colour, alpha = coverage. Asking for it makes the pass's film
                 transparent, so ``rgb`` of the same pass is ``rgba[..., :3]``.
                 With ``render.denoise`` both are denoised (OIDN on the full raw frame, ``denoise.py``).
  rgb_raw, rgba_raw  the same, never denoised: what labels read (with a fixed seed, raw pixels differ
                 between passes only where a light path touched what changed; denoised ones also
                 where the filter's footprint did)
  linear         float32 (T, H, W, 4) the raw beauty in scene-linear light (premultiplied alpha)
  albedo, normal float32 (T, H, W, 3) the denoiser's guides (``render.denoise`` only)
                 The last three let region renders be stitched into full raw frames before one
                 denoise per frame (``finish``); a border pass cannot ask for denoised layers.
  segmentation   uint16 (T, H, W)     0 background/floor/walls, spec object i -> i + 1
  depth          float32 (T, H, W)    distance to the camera centre in metres, inf for sky
  forward_flow   float32 (T, H, W, 2) where the surface seen at a pixel is one frame later, relative
                 to that pixel, in pixels (d_row, d_col)
  backward_flow  float32 (T, H, W, 2) the same towards the previous frame
  object_coordinates uint16 (T, H, W, 3)
"""
from __future__ import annotations

import functools
import shutil
import sys
import tempfile
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from datagen.kubric_compat import blender45
from datagen.scene import looks
from datagen.scene.build import build_kubric_scene, srgb_to_linear
from datagen.kubric_compat import kb
from datagen.scene.simulate import WorldStates
from datagen.scene.spec import FABRICS, RAY_KINDS, VISIBILITIES, SceneSpec

blender45.apply()

from kubric.redirect_io import RedirectStream  # noqa: E402
from kubric.renderer import blender_utils  # noqa: E402
from kubric.renderer.blender import Blender  # noqa: E402
from kubric.safeimport.bpy import bpy  # noqa: E402

LAYERS = ("rgb", "segmentation", "depth", "forward_flow", "backward_flow", "object_coordinates")
LABEL_LAYERS = LAYERS[1:]
BEAUTY_LAYERS = ("rgb", "rgba")
RAW_LAYERS = ("rgb_raw", "rgba_raw")
BORDER_NUDGE = 0.01  # pixels: border edges set this far inside a pixel, exact under truncation or rounding
FILM_LAYERS = ("linear", "albedo", "normal")
GUIDES = {"albedo": ("DenoiseAlbedo", "Denoising Albedo", "RGB"), "normal": ("DenoiseNormal", "Denoising Normal", "XYZ")}
BACKGROUND_Z = 1e9
HDRI_CLAMP_INDIRECT = 2.0
HDRI_CLAMP_DIRECT = 8.0  # Blender writes 1e10 where a ray hits nothing


class SceneRenderer:
    """One Blender scene for one spec; render any number of passes from it.

    Blender holds one scene per process: creating a renderer resets it, so an older renderer
    stops working (and says so) once a newer one exists.
    """
    _current: "SceneRenderer | None" = None

    def __init__(self, spec: SceneSpec, source=None, scratch_dir: str | None = None,
                 verbose: bool = False):
        t0 = time.perf_counter()
        SceneRenderer._current = self
        self.spec = spec
        self._own_scratch = scratch_dir is None
        self.scratch = Path(scratch_dir or tempfile.mkdtemp(prefix="cf_render_"))
        self.kubric = build_kubric_scene(spec, source=source)
        self.scene = self.kubric.scene
        r = spec.render
        self.blender = Blender(self.scene, scratch_dir=str(self.scratch / "kubric"),
                               samples_per_pixel=r.spp, use_denoising=False,
                               adaptive_sampling=r.adaptive_threshold > 0, verbose=verbose)
        self.verbose = verbose
        self._configure_cycles()
        self._label_depth()
        self._guide_passes()
        self._scratch_exr()
        self._denoiser = None
        self._add_camera()
        self._add_lights()
        self._dress()
        self.bodies = {b.name: self._add_body(b) for b in spec.bodies}
        self.passes_rendered: list[dict] = []
        self.setup_seconds = time.perf_counter() - t0

    # -- setup ------------------------------------------------------------------------------------
    def _configure_cycles(self) -> None:
        from datagen.scene import devices

        r, scene = self.spec.render, bpy.context.scene
        self.devices = devices.use(scene, r.device, r.gpus)
        scene.cycles.seed = r.seed
        scene.cycles.use_animated_seed = False
        scene.cycles.use_denoising = False  # denoised here, on full raw frames (finish)
        scene.cycles.use_adaptive_sampling = r.adaptive_threshold > 0
        if r.adaptive_threshold > 0:
            scene.cycles.adaptive_threshold = r.adaptive_threshold
            scene.cycles.adaptive_min_samples = r.adaptive_min_samples
        # no dither: display pixels are then a pure function of the linear render, so a frame stitched
        # and denoised here develops exactly as Blender writes a rendered one
        scene.render.dither_intensity = 0.0
        # no motion blur in any pass: a body's or object's pixels then depend on its pose at the frame alone,
        # the same in every pass and region of a clip (blurring would need every pass to blur alike)
        scene.render.use_motion_blur = False
        scene.render.threads_mode = "FIXED" if r.threads > 0 else "AUTO"
        if r.threads > 0:
            scene.render.threads = r.threads
        scene.cycles.max_bounces = r.max_bounces
        scene.cycles.diffuse_bounces = min(3, r.max_bounces)
        scene.cycles.glossy_bounces = min(4, r.max_bounces)
        scene.cycles.transmission_bounces = r.max_bounces
        scene.cycles.caustics_reflective = False
        scene.cycles.caustics_refractive = False
        if self.spec.environment.background == "hdri":
            # HDR maps hold small, very bright sources (lamps, windows, the sun's halo) that a few samples
            # per pixel turn into fireflies; clamping indirect light removes them at a slight energy loss
            scene.cycles.sample_clamp_indirect = HDRI_CLAMP_INDIRECT
            scene.cycles.sample_clamp_direct = HDRI_CLAMP_DIRECT
        scene.view_settings.view_transform = r.view_transform
        scene.view_settings.look = "None"
        scene.render.image_settings.file_format = "PNG"
        scene.render.image_settings.color_mode = "RGB"
        scene.render.image_settings.color_depth = "8"

    def _label_depth(self) -> None:
        """Take depth from the 1-sample label layer: exact per pixel, like segmentation, and
        available in label-only passes where the beauty layer is switched off."""
        aux = bpy.context.scene.view_layers["AuxOutputs"]
        aux.use_pass_z = True
        tree = bpy.context.scene.node_tree
        out = self.blender.exr_output_node
        for link in list(out.inputs["Depth"].links):
            tree.links.remove(link)
        tree.links.new(tree.nodes["Render Layers Aux"].outputs["Depth"], out.inputs["Depth"])

    def _scratch_exr(self) -> None:
        """Write the per-frame EXR uncompressed: it is scratch, read once and deleted, and decompressing
        Kubric's ZIP files took most of a small border render (lossless either way: the same values)."""
        self.blender.exr_output_node.format.exr_codec = "NONE"

    def _guide_passes(self) -> None:
        """With the denoiser on, the beauty layer also writes its albedo and normal guides to the EXR."""
        if not self.spec.render.denoise:
            return
        bpy.context.scene.view_layers["ViewLayer"].cycles.denoising_store_passes = True
        tree = bpy.context.scene.node_tree
        layer = next(n for n in tree.nodes if n.bl_idname == "CompositorNodeRLayers" and n.layer == "ViewLayer")
        out = self.blender.exr_output_node
        for slot, output, _ in GUIDES.values():
            out.file_slots.new(slot)
            tree.links.new(layer.outputs[output], out.inputs[slot])

    def _add_camera(self) -> None:
        c = self.spec.camera
        cam = kb.PerspectiveCamera(name="camera", focal_length=c.focal_length,
                                   sensor_width=c.sensor_width)
        self.scene.camera = cam  # adds it to the scene (and so to Blender)
        for frame, (position, target, focal) in enumerate(c.poses(self.spec.frames), start=1):
            cam.position = tuple(position)
            cam.look_at(tuple(target))
            cam.focal_length = float(focal)
            for prop in ("position", "quaternion", "focal_length"):
                cam.keyframe_insert(prop, frame)
        self.camera = cam

    def _add_lights(self) -> None:
        kinds = {"sun": kb.DirectionalLight, "area": kb.RectAreaLight, "point": kb.PointLight,
                 "spot": kb.SpotLight}
        for i, light in enumerate(self.spec.lights):
            kwargs = dict(name=f"light_{i}", position=tuple(light.position),
                          color=kb.Color(*srgb_to_linear(light.color), 1.0), intensity=light.intensity)
            if light.kind == "area":
                kwargs.update(width=light.size, height=light.size)
            obj = kinds[light.kind](**kwargs)
            obj.look_at(tuple(light.look_at))
            self.scene.add(obj)
            if light.kind == "sun":
                obj.linked_objects[self.blender].data.angle = np.radians(light.size)
        env = self.spec.environment
        files = None
        if env.background == "hdri" and env.hdri:
            path, meta = self._texture(env.hdri)
            files = (path, str(Path(path).parent / meta.get("backdrop", Path(path).name)))
        looks.light_world(bpy, self.blender, env, files)

    def _dress(self) -> None:
        """Materials, shading and visibility defaults for objects, floor and walls."""
        env = self.spec.environment
        floor_image = self._texture(env.floor_texture)[0] if env.floor == "photo" else None
        for name, asset in self.kubric.environment.items():
            mat = looks.floor_material(bpy, env, floor_image) if name == "floor" else looks.wall_material(bpy, env, name)
            obj = asset.linked_objects[self.blender]
            obj.data.materials.clear()
            obj.data.materials.append(mat)
            obj.is_shadow_catcher = name == "floor" and env.floor_shadow_catcher
        for o in self.spec.objects:
            asset = self.kubric.objects[o.name]
            if o.material.preset != "asset":  # "asset": keep the materials imported with the mesh
                asset.material = kb.PrincipledBSDFMaterial(
                    name=f"mat_{o.name}", color=kb.Color(*srgb_to_linear(o.material.color), 1.0))
                self.scene.add(asset.material)
                looks.style_material(asset.material.linked_objects[self.blender], o.material)
            mesh = asset.linked_objects[self.blender].data
            mesh.shade_smooth()
            mesh.set_sharp_from_angle(angle=o.smooth_angle)

    def _texture(self, asset_id: str) -> tuple[str, dict]:
        """(image file, metadata) of a Texture asset (an HDRI or a surface) of the scene's library."""
        from datagen.assets import asset_entry, create_asset

        texture = create_asset(self.kubric.source, asset_id)
        return str(texture.filename), asset_entry(self.kubric.source, asset_id).get("metadata", {})

    def _add_body(self, body) -> "bpy.types.Object":
        """A person as one mesh whose vertices follow the motion through one shape key per
        frame (constant keys: frame t shows exactly the skinned pose of frame t)."""
        from datagen.humans.body import body_mesh

        mesh_data = body_mesh(body, self.spec.frames, self.spec.fps)
        verts, faces = mesh_data.vertices, mesh_data.faces
        mesh = bpy.data.meshes.new(f"body_{body.name}")
        mesh.from_pydata(verts[0].tolist(), [], faces.tolist())
        mesh.update()
        obj = bpy.data.objects.new(f"body_{body.name}", mesh)
        bpy.context.scene.collection.objects.link(obj)
        obj.shape_key_add(name="basis", from_mix=False)
        for t in range(len(verts)):
            key = obj.shape_key_add(name=f"frame_{t:04d}", from_mix=False)
            key.data.foreach_set("co", verts[t].reshape(-1).astype(np.float64))
            for frame, value in ((t, 0.0), (t + 1, 1.0), (t + 2, 0.0)):
                if 1 <= frame <= len(verts):
                    key.value = value
                    key.keyframe_insert("value", frame=frame)
        for fc in obj.data.shape_keys.animation_data.action.fcurves if obj.data.shape_keys.animation_data else []:
            for kp in fc.keyframe_points:
                kp.interpolation = "CONSTANT"
        colours = {"skin": body.skin_color, "shirt": body.shirt_color, "trousers": body.trousers_color,
                   "shoes": body.shoes_color}
        table = np.array([[*srgb_to_linear(colours[r]), 1.0] for r in mesh_data.region_names], dtype=np.float32)
        attr = mesh.color_attributes.new("region_color", "FLOAT_COLOR", "POINT")
        attr.data.foreach_set("color", table[mesh_data.regions].reshape(-1))
        # garment finish per region: roughness and sheen (skin keeps the plain finish)
        fabrics = {"skin": "plain", "shirt": body.shirt_fabric, "trousers": body.trousers_fabric, "shoes": body.shoes_fabric}
        finish = np.array([[*FABRICS[fabrics[r]], 0.0, 1.0] for r in mesh_data.region_names], dtype=np.float32)
        attr = mesh.color_attributes.new("region_finish", "FLOAT_COLOR", "POINT")
        attr.data.foreach_set("color", finish[mesh_data.regions].reshape(-1))
        mat = bpy.data.materials.new(f"mat_body_{body.name}")
        mat.use_nodes = True
        nodes, links = mat.node_tree.nodes, mat.node_tree.links
        bsdf = nodes["Principled BSDF"]
        colour = nodes.new("ShaderNodeAttribute")
        colour.attribute_name = "region_color"
        links.new(colour.outputs["Color"], bsdf.inputs["Base Color"])
        finish_node = nodes.new("ShaderNodeAttribute")
        finish_node.attribute_name = "region_finish"
        split = nodes.new("ShaderNodeSeparateColor")
        links.new(finish_node.outputs["Color"], split.inputs["Color"])
        links.new(split.outputs["Red"], bsdf.inputs["Roughness"])
        links.new(split.outputs["Green"], bsdf.inputs["Sheen Weight"])
        mesh.materials.append(mat)
        mesh.shade_smooth()
        return obj

    # -- animation --------------------------------------------------------------------------------
    def set_states(self, states: WorldStates) -> None:
        """Key every object in ``states`` to its simulated pose at every frame."""
        self._check_current()
        for j, name in enumerate(states.names):
            asset = self.kubric.objects[name]
            for t in range(min(len(states.positions), self.spec.frames)):
                asset.position = tuple(states.positions[t, j])
                asset.quaternion = tuple(states.quaternions[t, j])
                asset.keyframe_insert("position", t + 1)
                asset.keyframe_insert("quaternion", t + 1)

    def _check_current(self) -> None:
        if SceneRenderer._current is not self:
            raise RuntimeError("this SceneRenderer's Blender scene was reset by a newer SceneRenderer "
                               "(Blender holds one scene per process); create a new one")

    def set_visibility(self, visibility: dict[str, str] | None) -> None:
        self._check_current()
        visibility = dict(visibility or {})
        unknown = set(visibility) - set(self.kubric.objects) - set(self.bodies)
        if unknown:
            raise KeyError(f"visibility names objects not in the scene: {sorted(unknown)}")
        targets = {**{n: a.linked_objects[self.blender] for n, a in self.kubric.objects.items()}, **self.bodies}
        for name, obj in targets.items():
            mode = visibility.get(name, "visible")
            if mode not in VISIBILITIES:
                raise ValueError(f"visibility of {name!r} is {mode!r}; choose from {VISIBILITIES}")
            obj.hide_render = mode == "hidden"
            obj.visible_camera = mode == "visible"
            for kind in RAY_KINDS:  # ray_<kind>: only that kind of ray sees it
                setattr(obj, f"visible_{kind}", not mode.startswith("ray_") or mode == f"ray_{kind}")
            obj.visible_volume_scatter = not mode.startswith("ray_")

    # -- rendering --------------------------------------------------------------------------------
    def render(self, visibility: dict[str, str] | None = None, layers=("rgb",),
               frames=None, border=None, spp: int | None = None) -> dict[str, np.ndarray]:
        """One pass. ``frames`` are 0-based indices (default: all); returns the requested layers.
        ``border`` (row0, row1, col0, col1, end-exclusive; or one such box per frame) renders only that box
        with Cycles' border (full-size frames, the box bit-identical to a full render's, zeros outside). ``spp`` overrides
        ``render.spp`` for this pass (raw layers only: passes at the same spp and seed agree wherever
        nothing they differ in is reached)."""
        layers = tuple(layers)
        known = LAYERS + BEAUTY_LAYERS[1:] + RAW_LAYERS + FILM_LAYERS
        bad = set(layers) - set(known)
        if bad:
            raise ValueError(f"unknown layers {sorted(bad)}; choose from {known}")
        r = self.spec.render
        if not r.denoise and {"albedo", "normal"} & set(layers):
            raise ValueError("albedo and normal guides exist only with render.denoise")
        if border is not None and r.denoise and set(BEAUTY_LAYERS) & set(layers):
            raise ValueError("a border pass cannot be denoised on its own: ask for rgb_raw and the film layers "
                             "(linear, albedo, normal), stitch them into full frames, then finish()")
        if spp is not None and set(BEAUTY_LAYERS) & set(layers):
            raise ValueError("a pass at its own spp delivers raw layers only (rgb_raw, rgba_raw, linear)")
        frames = list(range(self.spec.frames)) if frames is None else [int(f) for f in frames]
        self.set_visibility(visibility)
        bpy.context.scene.cycles.samples = int(spp) if spp is not None else r.spp
        beauty = bool(set(BEAUTY_LAYERS + RAW_LAYERS + FILM_LAYERS) & set(layers))
        transparent = bool({"rgba", "rgba_raw"} & set(layers))
        settings = bpy.context.scene.render
        bpy.context.scene.view_layers["ViewLayer"].use = beauty
        settings.film_transparent = transparent
        settings.image_settings.color_mode = "RGBA" if transparent else "RGB"
        borders = None
        if border is not None:
            borders = np.asarray(border, int).reshape(-1, 4)
            if len(borders) == 1:
                borders = np.repeat(borders, len(frames), axis=0)
            if len(borders) != len(frames):
                raise ValueError(f"border: one box or one per frame ({len(frames)}), got {len(borders)}")
            settings.use_crop_to_border = True  # Blender writes the box alone; _read puts it back in the frame
        pass_dir = Path(tempfile.mkdtemp(prefix="pass_", dir=self.scratch))
        self.blender.set_exr_output_path(pass_dir / "exr" / "frame_")
        t0 = time.perf_counter()
        try:
            with RedirectStream(stream=sys.stdout, disabled=self.verbose):
                for i, f in enumerate(frames):
                    if borders is not None:
                        r0, r1, c0, c1 = (int(v) for v in borders[i])
                        settings.use_border = True
                        # Blender turns the (float) fractions back into pixels by truncation: c1 / width
                        # can land a hair under c1 and lose the last column, so aim a hundredth of a pixel in
                        settings.border_min_x, settings.border_max_x = ((c + BORDER_NUDGE) / r.width for c in (c0, c1))
                        settings.border_min_y, settings.border_max_y = ((r.height - row + BORDER_NUDGE) / r.height
                                                                        for row in (r1, r0))
                    bpy.context.scene.frame_set(f + 1)
                    settings.filepath = str(pass_dir / "png" / f"frame_{f + 1:04d}.png")
                    bpy.ops.render.render(animation=False, write_still=beauty)
            out = self._read(pass_dir, frames, layers, transparent, borders)
        finally:
            shutil.rmtree(pass_dir, ignore_errors=True)
            settings.film_transparent = False
            settings.image_settings.color_mode = "RGB"
            settings.use_border = settings.use_crop_to_border = False
        self.passes_rendered.append({"frames": len(frames), "beauty": beauty,
                                     "seconds": time.perf_counter() - t0})
        return out

    def _read(self, pass_dir: Path, frames: list[int], layers, transparent: bool,
              borders: np.ndarray | None = None) -> dict[str, np.ndarray]:
        stacks: dict[str, list] = {k: [] for k in layers}
        for i, f in enumerate(frames):
            path = pass_dir / "exr" / f"frame_{f + 1:04d}.exr"
            place = (lambda a: a) if borders is None else functools.partial(self._uncrop, box=borders[i])
            exr = {k: place(v) for k, v in blender_utils.get_render_layers_from_exr(path).items()}
            developed = self.spec.render.denoise and set(layers) & set(BEAUTY_LAYERS)
            film = self._film(path, exr, place) if developed or set(layers) & set(FILM_LAYERS) else {}
            for key in layers:
                if key in BEAUTY_LAYERS + RAW_LAYERS:
                    if key in BEAUTY_LAYERS and self.spec.render.denoise:
                        image = self.finish(film["linear"], film["albedo"], film["normal"], transparent)
                    else:
                        image = place(iio.imread(pass_dir / "png" / f"frame_{f + 1:04d}.png"))
                    stacks[key].append(image[..., :4 if key.startswith("rgba") else 3])
                elif key in FILM_LAYERS:
                    stacks[key].append(film[key])
                elif key == "segmentation":
                    stacks[key].append(self._segmentation(exr["segmentation_indices"][..., 0]))
                elif key == "depth":
                    stacks[key].append(self._distance(exr["depth"][..., 0], f))
                elif key == "backward_flow":  # Kubric's points from t-1 to t; ours from t to t-1
                    stacks[key].append(-exr[key].astype(np.float32))
                elif key == "object_coordinates":
                    stacks[key].append(blender_utils.process_object_coordinates(exr, self.scene))
                else:
                    stacks[key].append(exr[key].astype(np.float32))
        return {k: np.stack(v) for k, v in stacks.items()}

    def _uncrop(self, crop: np.ndarray, box) -> np.ndarray:
        """A border render's crop (what Blender writes with ``use_crop_to_border``) back in its full frame,
        zeros outside, as Blender writes an uncropped border render."""
        r0, r1, c0, c1 = (int(v) for v in box)
        if crop.shape[:2] != (r1 - r0, c1 - c0):
            raise RuntimeError(f"Blender wrote a {crop.shape[:2]} crop for the border {tuple(box)}")
        frame = np.zeros((self.spec.render.height, self.spec.render.width, *crop.shape[2:]), crop.dtype)
        frame[r0:r1, c0:c1] = crop
        return frame

    def _film(self, path: Path, exr: dict, place) -> dict[str, np.ndarray]:
        """The raw beauty (scene-linear RGBA) and, with the denoiser on, its guides, of one EXR frame (``exr``
        as read and placed; ``place`` puts a border render's guides in the frame too)."""
        import OpenEXR

        film = {"linear": np.asarray(exr["linear_rgba"], np.float32)}
        if self.spec.render.denoise:
            handle = OpenEXR.InputFile(str(path))
            for key, (slot, _, channels) in GUIDES.items():
                film[key] = place(blender_utils.read_channels_from_exr(handle, [f"{slot}.{c}" for c in channels]))
        return film

    def finish(self, linear: np.ndarray, albedo: np.ndarray | None = None, normal: np.ndarray | None = None,
               transparent: bool = False) -> np.ndarray:
        """A delivered display frame from one full raw frame: denoised (``render.denoise``; colour only,
        alpha stays the coverage) and developed with the scene's view transform, exactly as Blender
        writes a render (uint8 (H, W, 3), or (H, W, 4) straight alpha when ``transparent``)."""
        linear = np.array(linear, dtype=np.float32)
        if self.spec.render.denoise:
            if albedo is None or normal is None:
                raise ValueError("denoising needs the albedo and normal guides of the same frame")
            if self._denoiser is None:
                from datagen.scene.denoise import Denoiser

                self._denoiser = Denoiser(self.spec.render.threads)
            linear[..., :3] = self._denoiser(linear[..., :3], albedo, normal)
        return self._develop(linear, transparent)

    def _develop(self, linear: np.ndarray, transparent: bool) -> np.ndarray:
        h, w = linear.shape[:2]
        image = bpy.data.images.get("cf_develop")
        if image is None or tuple(image.size) != (w, h):
            if image is not None:
                bpy.data.images.remove(image)
            image = bpy.data.images.new("cf_develop", w, h, alpha=True, float_buffer=True)
        image.pixels.foreach_set(np.ascontiguousarray(linear[::-1]).reshape(-1))
        settings = bpy.context.scene.render.image_settings
        mode = settings.color_mode
        settings.color_mode = "RGBA" if transparent else "RGB"
        path = self.scratch / "develop.png"
        try:
            image.save_render(str(path), scene=bpy.context.scene)
            return iio.imread(path)
        finally:
            settings.color_mode = mode
            path.unlink(missing_ok=True)

    def _segmentation(self, hashes: np.ndarray) -> np.ndarray:
        """Cryptomatte hashes (of Blender object names) to spec ids; everything else is 0."""
        out = np.zeros(hashes.shape, dtype=np.uint16)
        for name, asset in self.kubric.objects.items():
            out[hashes == blender_utils.mm3hash(asset.uid)] = self.spec.segmentation_id(name)
        for name, obj in self.bodies.items():
            out[hashes == blender_utils.mm3hash(obj.name)] = self.spec.segmentation_id(name)
        return out

    def _distance(self, z: np.ndarray, frame: int) -> np.ndarray:
        """Blender's z (along the view axis) to distance from the camera centre."""
        h, w = z.shape
        focal_mm = self.spec.camera.poses(self.spec.frames)[frame][2]
        f_px = focal_mm / self.spec.camera.sensor_width * w
        rows, cols = np.mgrid[0:h, 0:w].astype(np.float64)
        ray = np.sqrt(1.0 + ((cols + 0.5 - w / 2) / f_px) ** 2 + ((rows + 0.5 - h / 2) / f_px) ** 2)
        out = (z * ray).astype(np.float32)
        out[z >= BACKGROUND_Z] = np.inf
        return out

    # -- geometry helpers -------------------------------------------------------------------------
    def project(self, points: np.ndarray, frame: int) -> np.ndarray:
        """World points (N, 3) to pixel (row, col) at a 0-based frame, with the camera's path."""
        pts = np.atleast_2d(np.asarray(points, dtype=np.float64))
        uv = np.stack([self.camera.project_point(p, frame=frame + 1) for p in pts])
        return np.stack([uv[:, 1] * self.spec.render.height, uv[:, 0] * self.spec.render.width], axis=1)

    def close(self) -> None:
        if self._own_scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
