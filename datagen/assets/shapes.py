"""Procedural meshes for counterfactory's offline asset library.

Kubric's own asset sets (KuBasic, Google Scanned Objects) live in a bucket this project cannot
reach, so the library is generated here from code. Every builder returns one watertight,
winding-consistent, single-body ``trimesh.Trimesh`` in metres, Z up, standing in a stable resting
pose with its base on z=0. ``builder.py`` later moves it to its centre of mass, derives mass and
inertia from ``density`` and packs it in Kubric's asset format.

Sizes follow a "toy world": primitives ~0.2-0.3 m, tabletop things 0.08-0.3 m, furniture
0.5-1.0 m. Densities are *effective* bulk densities (kg/m^3) of the modelled solid, so a solid
bottle or an empty carton still weighs what the real thing would.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import trimesh
from scipy.spatial import ConvexHull
from trimesh import boolean, creation

# Default physics per material preset (the preset names are the renderer's, see
# datagen.scene.spec.MATERIAL_PRESETS): (friction, restitution).
MATERIAL_PHYSICS: dict[str, tuple[float, float]] = {
    "rubber": (0.9, 0.7),
    "metal": (0.4, 0.3),
    "plastic": (0.5, 0.4),
    "wood": (0.6, 0.3),
    "ceramic": (0.5, 0.2),
    "glass": (0.4, 0.2),
}


@dataclass(frozen=True)
class Recipe:
    """How to make one asset: the mesh builder plus the physical defaults stored with it.

    ``collision`` is "hull" (one convex hull), "parts" (the convex pieces the builder recorded),
    "vhacd" (PyBullet's convex decomposition) or "auto": parts if recorded, else the hull if the
    mesh is convex, else vhacd.
    """
    asset_id: str
    build: Callable[[], trimesh.Trimesh]
    category: str
    material: str
    density: float
    description: str
    friction: float | None = None  # None: the material's default
    restitution: float | None = None
    collision: str = "auto"

    def __post_init__(self):
        if self.material not in MATERIAL_PHYSICS:
            raise ValueError(f"{self.asset_id}: unknown material preset {self.material!r}")
        if self.collision not in ("auto", "hull", "parts", "vhacd"):
            raise ValueError(f"{self.asset_id}: unknown collision method {self.collision!r}")
        if self.density <= 0:
            raise ValueError(f"{self.asset_id}: density must be positive")

    @property
    def physics(self) -> tuple[float, float]:
        f, r = MATERIAL_PHYSICS[self.material]
        return (self.friction if self.friction is not None else f,
                self.restitution if self.restitution is not None else r)


RECIPES: dict[str, Recipe] = {}


def asset(asset_id: str, **fields):
    """Register a builder under ``asset_id`` with its recipe fields."""
    def register(fn: Callable[[], trimesh.Trimesh]):
        if asset_id in RECIPES:
            raise ValueError(f"duplicate asset id {asset_id!r}")
        RECIPES[asset_id] = Recipe(asset_id=asset_id, build=fn, **fields)
        return fn
    return register


# -- helpers ---------------------------------------------------------------------------------------
#
# Builders that are made of convex pieces (boxes, revolved wall segments) record those pieces in
# ``mesh.metadata["convex_parts"]`` as point sets: their hulls are an exact collision decomposition,
# better and far quicker than V-HACD, which fills the gaps between chair legs and shelf boards.

def box(extents, center_xy=(0.0, 0.0), z0: float = 0.0) -> trimesh.Trimesh:
    """Axis-aligned box of ``extents`` whose bottom face is at ``z0``."""
    ex = np.asarray(extents, dtype=float)
    return creation.box(extents=ex).apply_translation([center_xy[0], center_xy[1], z0 + ex[2] / 2])


def union(*meshes: trimesh.Trimesh) -> trimesh.Trimesh:
    return boolean.union(list(meshes), engine="manifold")


def difference(base: trimesh.Trimesh, *cutters: trimesh.Trimesh) -> trimesh.Trimesh:
    return boolean.difference([base, *cutters], engine="manifold")


def with_parts(mesh: trimesh.Trimesh, parts) -> trimesh.Trimesh:
    """Attach convex pieces (point sets whose hulls together make up ``mesh``)."""
    mesh.metadata["convex_parts"] = [np.asarray(p, dtype=float) for p in parts]
    return mesh


def assemble(*pieces: trimesh.Trimesh) -> trimesh.Trimesh:
    """One body from overlapping convex pieces, keeping the pieces as its collision parts."""
    return with_parts(union(*pieces), [p.vertices for p in pieces])


def revolve(profile, sections: int = 48) -> trimesh.Trimesh:
    """Surface of revolution about Z of a closed (r, z) profile, counter-clockwise in (r, z).

    The profile either starts and ends on the axis (r=0) or is a closed loop off the axis
    (a torus); both give a closed surface with outward normals. Vertex ``k`` of the ring lies
    at angle ``2 pi k / sections``, which ``revolved_parts`` relies on.
    """
    pts = np.asarray(profile, dtype=float)
    closed_loop = np.allclose(pts[0], pts[-1])
    if not closed_loop and (pts[0, 0] != 0.0 or pts[-1, 0] != 0.0):
        raise ValueError("a revolved profile must start and end on the axis or be a closed loop")
    mesh = creation.revolve(pts, sections=sections)
    mesh.merge_vertices()
    return mesh


def revolved_parts(pieces, sections: int, sectors: int) -> list[np.ndarray]:
    """Convex point sets covering the revolution of 2D (r, z) pieces.

    A convex piece lying against the axis revolves into a convex solid: one part. A piece off
    the axis (a wall) is split into ``sectors`` wedges; each wedge is the hull of the piece's
    points at the same angles as the visual mesh, so its outside matches the visual facets and
    only its concave side cuts a chord (a small sagitta) into empty space.
    """
    if sections % sectors:
        raise ValueError("sections must be a multiple of sectors")
    theta = 2 * np.pi * np.arange(sections + 1) / sections
    out = []
    for piece in pieces:
        piece = np.asarray(piece, dtype=float)
        step = sections if piece[:, 0].min() == 0.0 else sections // sectors
        for k in range(0, sections, step):
            ang = theta[k:k + step + 1]
            r, z = piece[:, 0][None, :], piece[:, 1][None, :]
            pts = np.stack([r * np.cos(ang)[:, None], r * np.sin(ang)[:, None],
                            np.broadcast_to(z, (len(ang), len(piece)))], axis=-1)
            out.append(np.unique(pts.reshape(-1, 3).round(12), axis=0))
    return out


def _polygon_area(poly) -> float:
    x, y = np.asarray(poly).T
    return 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def wall_pieces(outer, inner, tol: float) -> list[np.ndarray]:
    """Split a wall between paired ``outer``/``inner`` (r, z) curves into nearly convex pieces.

    A run of wall segments is kept as one piece while its 2D convex hull adds less than ``tol``
    (metres) of average thickness, so the revolved hulls hug the real wall.
    """
    outer, inner = np.asarray(outer, float), np.asarray(inner, float)
    pieces, i = [], 0
    while i < len(outer) - 1:
        j = i + 1
        while j + 1 < len(outer):
            cand = np.concatenate([outer[i:j + 2], inner[i:j + 2][::-1]])
            length = np.linalg.norm(np.diff(outer[i:j + 2], axis=0), axis=1).sum()
            if ConvexHull(cand).volume - _polygon_area(cand) > tol * length:  # 2D: volume is area
                break
            j += 1
        pieces.append(np.concatenate([outer[i:j + 1], inner[i:j + 1][::-1]]))
        i = j
    return pieces


def shell(outer, inner, sections: int = 48, sectors: int = 12, tol: float = 0.002) -> trimesh.Trimesh:
    """Hollow solid of revolution (bowl, plate, vase) with its convex parts.

    ``outer`` runs from the base corner up to the rim, ``inner`` from the inside floor corner up
    to the rim, point for point (the same count, paired across the wall).
    """
    outer, inner = np.asarray(outer, float), np.asarray(inner, float)
    if outer.shape != inner.shape:
        raise ValueError("outer and inner walls need the same number of points")
    z_base, z_floor = outer[0, 1], inner[0, 1]
    profile = [(0.0, z_base), *outer, *inner[::-1], (0.0, z_floor)]
    floor = [(0.0, z_base), outer[0], inner[0], (0.0, z_floor)]
    pieces = [floor, *wall_pieces(outer, inner, tol)]
    return with_parts(revolve(profile, sections), revolved_parts(pieces, sections, sectors))


def _rot(angle: float, axis) -> np.ndarray:
    return trimesh.transformations.rotation_matrix(angle, axis)


# -- primitives ------------------------------------------------------------------------------------

@asset("cube", category="primitive", material="plastic", density=400.0,
       description="cube, 0.2 m edge")
def cube() -> trimesh.Trimesh:
    return box([0.2, 0.2, 0.2])


@asset("sphere", category="primitive", material="metal", density=500.0,
       description="sphere, 0.22 m diameter (hollow-metal weight)")
def sphere() -> trimesh.Trimesh:
    return creation.icosphere(subdivisions=3, radius=0.11).apply_translation([0, 0, 0.11])


@asset("cylinder", category="primitive", material="metal", density=500.0,
       description="upright cylinder, 0.2 m diameter, 0.22 m tall")
def cylinder() -> trimesh.Trimesh:
    return creation.cylinder(radius=0.1, height=0.22, sections=48).apply_translation([0, 0, 0.11])


@asset("cone", category="primitive", material="rubber", density=500.0,
       description="cone on its base, 0.22 m diameter, 0.25 m tall")
def cone() -> trimesh.Trimesh:
    return creation.cone(radius=0.11, height=0.25, sections=48)


@asset("torus", category="primitive", material="rubber", density=500.0,
       description="ring lying flat, 0.27 m across, 0.07 m thick")
def torus() -> trimesh.Trimesh:
    major, minor, sections = 0.1, 0.035, 48
    phi = 2 * np.pi * np.arange(17) / 16
    circle = np.stack([major + minor * np.cos(phi), minor + minor * np.sin(phi)], axis=1)
    return with_parts(revolve(circle, sections), revolved_parts([circle], sections, sectors=16))


@asset("capsule", category="primitive", material="plastic", density=500.0,
       description="capsule lying along X, 0.28 m long, 0.12 m diameter")
def capsule() -> trimesh.Trimesh:
    mesh = creation.capsule(height=0.16, radius=0.06, count=[24, 24])
    return mesh.apply_transform(_rot(np.pi / 2, [0, 1, 0])).apply_translation([0, 0, 0.06])


# -- tabletop objects ------------------------------------------------------------------------------

@asset("mug", category="tableware", material="ceramic", density=2000.0,
       description="hollow mug with a handle, 0.084 m diameter, 0.095 m tall")
def mug() -> trimesh.Trimesh:
    # The handle makes this the one asset without construction parts: V-HACD decomposes it.
    radius, height, wall, floor = 0.042, 0.095, 0.005, 0.008
    body = creation.cylinder(radius=radius, height=height, sections=48)
    body.apply_translation([0, 0, height / 2])
    handle = creation.torus(major_radius=0.026, minor_radius=0.0065, major_sections=32,
                            minor_sections=12)
    handle.apply_transform(_rot(np.pi / 2, [1, 0, 0])).apply_translation([radius + 0.01, 0, 0.05])
    cavity = creation.cylinder(radius=radius - wall, height=height, sections=48)
    cavity.apply_translation([0, 0, floor + height / 2])
    return difference(union(body, handle), cavity)


@asset("bowl", category="tableware", material="ceramic", density=2000.0,
       description="hollow bowl, 0.18 m diameter, 0.075 m tall")
def bowl() -> trimesh.Trimesh:
    s = np.sin(np.linspace(0.0, 1.0, 9) * np.pi / 2)
    t = np.linspace(0.0, 1.0, 9)
    outer = np.stack([0.05 + 0.04 * s, 0.075 * t], axis=1)
    inner = np.stack([0.045 + 0.04 * s - 0.005 * t, 0.007 + 0.068 * t], axis=1)
    return shell(outer, inner, tol=0.001)


@asset("plate", category="tableware", material="ceramic", density=2000.0,
       description="shallow dish, 0.24 m diameter, 0.024 m tall")
def plate() -> trimesh.Trimesh:
    outer = [(0.075, 0.0), (0.08, 0.003), (0.117, 0.019), (0.12, 0.024)]
    inner = [(0.072, 0.006), (0.077, 0.0075), (0.113, 0.0225), (0.116, 0.024)]
    return shell(outer, inner, sections=64, sectors=16)


@asset("bottle", category="tableware", material="glass", density=400.0,
       description="solid wine-style bottle, 0.07 m diameter, 0.25 m tall (empty-bottle weight)")
def bottle() -> trimesh.Trimesh:
    a = np.radians(np.linspace(0.0, 90.0, 7))
    shoulder = np.stack([0.013 + 0.022 * np.cos(a), 0.155 + 0.055 * np.sin(a)], axis=1)
    body = [(0.0, 0.0), (0.031, 0.0), (0.035, 0.004), (0.035, 0.155)]
    neck = [(0.013, 0.236), (0.0155, 0.238), (0.0155, 0.248), (0.0135, 0.25)]
    mouth = [(0.0095, 0.25), (0.0095, 0.242), (0.0, 0.242)]
    mesh = revolve([*body, *shoulder[1:], *neck, *mouth], sections=40)
    # three convex pieces against the axis; the 8 mm mouth recess is filled in for physics
    pieces = [[*body, (0.0, 0.155)],
              [(0.0, 0.155), *shoulder, (0.0, 0.21)],
              [(0.0, 0.21), shoulder[-1], *neck, (0.0, 0.25)]]
    return with_parts(mesh, revolved_parts(pieces, sections=40, sectors=8))


@asset("vase", category="decor", material="ceramic", density=2000.0,
       description="hollow vase with a flared lip, 0.14 m wide, 0.25 m tall")
def vase() -> trimesh.Trimesh:
    def radius(z):  # belly at 0.08 m, waist at 0.2 m, flare to the lip
        return (0.045 + 0.025 * np.sin(np.clip(z / 0.16, 0, 1) * np.pi)
                - 0.015 * np.clip((z - 0.12) / 0.08, 0, 1) + 0.02 * np.clip((z - 0.2) / 0.05, 0, 1) ** 2)
    wall, floor = 0.005, 0.01
    z = np.linspace(0.0, 0.25, 14)
    outer = np.stack([radius(z), z], axis=1)
    zi = np.concatenate([[floor], z[1:]])
    inner = np.stack([radius(zi) - wall, zi], axis=1)
    return shell(outer, inner)


@asset("book", category="book", material="plastic", density=700.0,
       description="closed hardback lying flat, 0.22 x 0.15 x 0.03 m")
def book() -> trimesh.Trimesh:
    w, d, h, board = 0.22, 0.15, 0.03, 0.003
    pages = box([w - 0.006, d - 0.008, h - 2 * board + 0.002], center_xy=(0.002, 0), z0=board - 0.001)
    back = box([w, d, board])
    front = box([w, d, board], z0=h - board)
    spine = box([board, d, h], center_xy=(-w / 2 + board / 2, 0))
    return assemble(back, front, spine, pages)


@asset("box", category="container", material="plastic", density=60.0,
       description="closed cardboard carton with a lid, 0.26 x 0.18 x 0.16 m (empty-carton weight)")
def carton() -> trimesh.Trimesh:
    return assemble(box([0.256, 0.176, 0.15]), box([0.26, 0.18, 0.03], z0=0.13))


@asset("ball", category="toy", material="rubber", density=150.0, restitution=0.8,
       description="bouncy toy ball, 0.14 m diameter")
def ball() -> trimesh.Trimesh:
    return creation.icosphere(subdivisions=3, radius=0.07).apply_translation([0, 0, 0.07])


@asset("domino", category="toy", material="wood", density=700.0,
       description="toy domino standing on its short end: 0.03 thick (X), 0.1 wide (Y), 0.2 tall (Z)")
def domino() -> trimesh.Trimesh:
    return box([0.03, 0.1, 0.2])


# -- furniture -------------------------------------------------------------------------------------

@asset("chair", category="furniture", material="wood", density=600.0,
       description="wooden chair: seat at 0.46 m, back to 0.9 m, 0.44 x 0.42 m footprint")
def chair() -> trimesh.Trimesh:
    w, d, seat_z, seat_t, leg, top, inset = 0.44, 0.42, 0.43, 0.035, 0.035, 0.9, 0.01
    y_front, y_back = d / 2 - leg / 2 - inset, -d / 2 + leg / 2 + inset
    parts = [box([w, d, seat_t], z0=seat_z)]
    for sx in (-1, 1):
        x = sx * (w / 2 - leg / 2 - inset)
        parts.append(box([leg, leg, seat_z + 0.005], center_xy=(x, y_front)))
        parts.append(box([leg, leg, top], center_xy=(x, y_back)))  # rear legs become back posts
    parts.append(box([w - 2 * inset, 0.02, 0.18], center_xy=(0, y_back), z0=top - 0.2))
    parts.append(box([w - 2 * inset, 0.02, 0.05], center_xy=(0, y_back), z0=seat_z + 0.12))
    return assemble(*parts)


@asset("table", category="furniture", material="wood", density=600.0,
       description="wooden table, 0.9 x 0.6 m top at 0.72 m")
def table() -> trimesh.Trimesh:
    w, d, h, top_t, leg, inset = 0.9, 0.6, 0.72, 0.035, 0.045, 0.04
    parts = [box([w, d, top_t], z0=h - top_t)]
    for sx in (-1, 1):
        for sy in (-1, 1):
            parts.append(box([leg, leg, h - top_t + 0.005],
                             center_xy=(sx * (w / 2 - inset), sy * (d / 2 - inset))))
    return assemble(*parts)


@asset("shelf", category="furniture", material="wood", density=600.0,
       description="open bookshelf, 0.6 m wide, 0.28 m deep, 0.9 m tall, three boards")
def shelf() -> trimesh.Trimesh:
    w, d, h, t = 0.6, 0.28, 0.9, 0.018
    inner_w = w - 2 * t + 0.004  # boards reach 2 mm into the sides so the union is one body
    parts = [box([t, d, h], center_xy=(sx * (w / 2 - t / 2), 0)) for sx in (-1, 1)]
    parts += [box([inner_w, d, t], z0=z0) for z0 in (0.05, 0.45, h - t)]
    # a rail under the back of the top board, as on a real braced shelf
    parts.append(box([inner_w, t, 0.06], center_xy=(0, -d / 2 + t / 2), z0=h - t - 0.058))
    return assemble(*parts)


ASSET_IDS: tuple[str, ...] = tuple(RECIPES)
