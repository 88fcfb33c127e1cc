"""Rotations, one place for all of counterfactory: unit quaternions (w, x, y, z) as in Kubric, rotation
matrices (..., 3, 3) and axis-angle vectors. numpy only, float64, any leading shape."""
from __future__ import annotations

import math

import numpy as np

Quat = tuple[float, float, float, float]


# -- quaternions ----------------------------------------------------------------------------------

def normalise(q: np.ndarray) -> np.ndarray:
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def yaw(angle: float) -> Quat:
    """The rotation by ``angle`` radians about +Z, as a plain tuple (for specs)."""
    return (math.cos(angle / 2), 0.0, 0.0, math.sin(angle / 2))


def random_quaternion(rng: np.random.Generator) -> Quat:
    """A uniformly random orientation (w >= 0)."""
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    return tuple(float(v) for v in (q if q[0] >= 0 else -q))


def rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors v (..., 3) by unit quaternions q (..., 4)."""
    w, u = q[..., :1], q[..., 1:]
    t = 2.0 * np.cross(u, v)
    return v + w * t + np.cross(u, t)


def multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The Hamilton product a * b (apply b, then a)."""
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack([aw * bw - ax * bx - ay * by - az * bz,
                     aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw], axis=-1)


def rotation_angle(q1: np.ndarray, q2: np.ndarray) -> np.ndarray:
    """Angle in radians between orientations (any leading shape).

    Uses atan2 of the relative rotation's vector and scalar parts, which stays exact near zero
    (arccos of a dot product reports ~1e-8 for identical quaternions)."""
    q1, q2 = np.asarray(q1, dtype=np.float64), np.asarray(q2, dtype=np.float64)
    w1, v1, w2, v2 = q1[..., :1], q1[..., 1:], q2[..., :1], q2[..., 1:]
    # relative rotation conj(q1) * q2
    w = w1[..., 0] * w2[..., 0] + np.sum(v1 * v2, axis=-1)
    v = w1 * v2 - w2 * v1 - np.cross(v1, v2)
    return 2.0 * np.arctan2(np.linalg.norm(v, axis=-1), np.abs(w))


def slerp(q0: np.ndarray, q1: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Spherical interpolation of unit quaternions (..., 4) with weights u broadcast on (...)."""
    dot = np.sum(q0 * q1, axis=-1)
    q1 = np.where(dot[..., None] < 0, -q1, q1)
    dot = np.abs(dot).clip(-1.0, 1.0)
    theta = np.arccos(dot)
    small = theta < 1e-6
    s = np.where(small, 1.0, np.sin(theta))
    w0 = np.where(small, 1.0 - u, np.sin((1.0 - u) * theta) / s)
    w1 = np.where(small, u, np.sin(u * theta) / s)
    return normalise(w0[..., None] * q0 + w1[..., None] * q1)


def angular_velocity(q: np.ndarray, fps: float) -> np.ndarray:
    """World angular velocities (T, K, 3) rad/s of unit quaternion tracks (T, K, 4): 2 dq/dt q*."""
    if len(q) < 2:
        return np.zeros(q.shape[:-1] + (3,))
    q = q.copy()
    for t in range(1, len(q)):  # q and -q are one rotation: make the track continuous
        q[t][np.sum(q[t] * q[t - 1], axis=-1) < 0] *= -1
    dq = np.gradient(q, axis=0) * fps
    w, v = q[..., :1], -q[..., 1:]  # the conjugate
    return 2 * (dq[..., :1] * v + w * dq[..., 1:] + np.cross(dq[..., 1:], v))


# -- axis-angle -----------------------------------------------------------------------------------

def from_axis_angle(aa: np.ndarray) -> np.ndarray:
    """Axis-angle vectors (..., 3) to unit quaternions (..., 4)."""
    aa = np.asarray(aa, dtype=np.float64)
    angle = np.linalg.norm(aa, axis=-1, keepdims=True)
    half = angle / 2
    # sin(angle/2)/angle, with its limit 1/2 at 0
    k = np.where(angle > 1e-8, np.sin(half) / np.maximum(angle, 1e-300), 0.5 - angle ** 2 / 48)
    return np.concatenate([np.cos(half), aa * k], axis=-1)


def to_axis_angle(q: np.ndarray) -> np.ndarray:
    """Unit quaternions (..., 4) to axis-angle vectors (..., 3) with angles in [0, pi]."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    q = np.where(q[..., :1] < 0, -q, q)
    s = np.linalg.norm(q[..., 1:], axis=-1, keepdims=True)
    angle = 2 * np.arctan2(s, q[..., :1])
    k = np.where(s > 1e-8, angle / np.maximum(s, 1e-300), 2 / q[..., :1])
    return q[..., 1:] * k


# -- matrices -------------------------------------------------------------------------------------

def matrix_x(a) -> np.ndarray:
    """Rotations (..., 3, 3) by angles ``a`` about +X."""
    a = np.asarray(a, float)
    c, s = np.cos(a), np.sin(a)
    m = np.zeros(a.shape + (3, 3))
    m[..., 0, 0] = 1
    m[..., 1, 1], m[..., 1, 2], m[..., 2, 1], m[..., 2, 2] = c, -s, s, c
    return m


def matrix_z(a) -> np.ndarray:
    """Rotations (..., 3, 3) by angles ``a`` about +Z."""
    a = np.asarray(a, float)
    c, s = np.cos(a), np.sin(a)
    m = np.zeros(a.shape + (3, 3))
    m[..., 2, 2] = 1
    m[..., 0, 0], m[..., 0, 1], m[..., 1, 0], m[..., 1, 1] = c, -s, s, c
    return m


def rotate_z(v: np.ndarray, angle: float) -> np.ndarray:
    """One vector (3,) turned by ``angle`` about +Z."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1], v[2]])


def from_matrix(m: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) to unit quaternions (..., 4) with w >= 0."""
    from scipy.spatial.transform import Rotation
    xyzw = Rotation.from_matrix(m.reshape(-1, 3, 3)).as_quat()
    q = np.concatenate([xyzw[:, 3:], xyzw[:, :3]], axis=1)
    q[q[:, 0] < 0] *= -1
    return q.reshape(m.shape[:-2] + (4,))


def kabsch(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotations (T, 3, 3) best mapping rest vectors u (K, 3) onto v (T, K, 3)."""
    h = np.einsum("ki,tkj->tij", u, v)
    U, _, Vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.swapaxes(Vt, 1, 2) @ np.swapaxes(U, 1, 2)))
    D = np.zeros((len(v), 3, 3))
    D[:, 0, 0] = D[:, 1, 1] = 1.0
    D[:, 2, 2] = d
    return np.swapaxes(Vt, 1, 2) @ D @ np.swapaxes(U, 1, 2)


def swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotations (T, 3, 3) taking directions a (T, 3) to b (T, 3)."""
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    v, c = np.cross(a, b), np.einsum("ti,ti->t", a, b)
    K = np.zeros((len(a), 3, 3))
    K[:, 0, 1], K[:, 0, 2], K[:, 1, 2] = -v[:, 2], v[:, 1], -v[:, 0]
    K[:, 1, 0], K[:, 2, 0], K[:, 2, 1] = v[:, 2], -v[:, 1], v[:, 0]
    scale = 1.0 / np.maximum(1.0 + c, 1e-9)
    return np.eye(3) + K + K @ K * scale[:, None, None]
