"""Rigid-body simulation of a ``SceneSpec`` with PyBullet (through Kubric's simulator view).

The result is plain arrays, so it can be stored in a sample's metadata, compared between two
worlds of a counterfactual, and replayed by any render pass without re-simulating.
"""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

from datagen.scene.build import build_kubric_scene
from datagen.scene.spec import SceneSpec


ROLLING_FRICTION = 0.002  # metres (lever arm of the rolling resistance)


@dataclass
class WorldStates:
    """Per-frame state of every simulated object; arrays are indexed [frame, object]."""
    names: list[str]
    positions: np.ndarray  # (T, N, 3) metres
    quaternions: np.ndarray  # (T, N, 4) w, x, y, z
    velocities: np.ndarray  # (T, N, 3) m/s
    angular_velocities: np.ndarray  # (T, N, 3) rad/s
    collisions: list[dict] = field(default_factory=list)  # contact onsets, see ``_contact_onsets``
    seconds: float = 0.0

    def index(self, name: str) -> int:
        return self.names.index(name)

    def trajectory(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        i = self.index(name)
        return self.positions[:, i], self.quaternions[:, i]

    def to_dict(self) -> dict:
        return {"names": list(self.names), "positions": self.positions.tolist(),
                "quaternions": self.quaternions.tolist(), "velocities": self.velocities.tolist(),
                "angular_velocities": self.angular_velocities.tolist(),
                "collisions": self.collisions}

    @classmethod
    def from_dict(cls, d: dict) -> "WorldStates":
        arrays = {k: np.asarray(d[k], dtype=np.float64).reshape(-1, len(d["names"]), 4 if k == "quaternions" else 3)
                  for k in ("positions", "quaternions", "velocities", "angular_velocities")}
        return cls(names=list(d["names"]), collisions=list(d.get("collisions", [])), **arrays)



def simulate(spec: SceneSpec, exclude=(), source=None) -> WorldStates:
    """Simulate ``spec`` without the objects named in ``exclude`` (the counterfactual world).

    Frame 0 is the initial state; frame t is the state after t / fps seconds.
    """
    from datagen.kubric_compat import kb  # noqa: F401
    from kubric.simulator.pybullet import PyBullet

    t0 = time.perf_counter()
    ks = build_kubric_scene(spec, source=source, exclude=exclude)
    with tempfile.TemporaryDirectory(prefix="cf_sim_") as scratch:
        sim = PyBullet(ks.scene, scratch_dir=scratch)
        # Always run every solver iteration: an early exit on a residual summed over all islands
        # would couple objects that never touch (e.g. across the two worlds of a counterfactual).
        sim._physics_client.setPhysicsEngineParameter(solverResidualThreshold=0.0)
        # PyBullet's default is no rolling resistance: a ball would roll forever.
        for name, asset in {**ks.objects, **ks.environment}.items():
            sim._physics_client.changeDynamics(asset.linked_objects[sim], -1, rollingFriction=ROLLING_FRICTION,
                                               spinningFriction=ROLLING_FRICTION)
        try:
            animation, contacts = sim.run(frame_start=1, frame_end=spec.frames)
        finally:
            # Disconnect now and disarm Kubric's __del__: PyBullet reuses client ids, so a later
            # garbage collection of this view would otherwise disconnect someone else's world.
            sim._physics_client.disconnect()
            sim._physics_client._client = -1
    names = [o.name for o in spec.objects if o.name in ks.objects]

    def stack(key):
        return np.stack([np.asarray(animation[ks.objects[n]][key], dtype=np.float64) for n in names],
                        axis=1) if names else np.zeros((spec.frames, 0, 4 if key == "quaternion" else 3))

    return WorldStates(names=names, positions=stack("position"), quaternions=stack("quaternion"),
                       velocities=stack("velocity"), angular_velocities=stack("angular_velocity"),
                       collisions=_contact_onsets(contacts, ks, spec.physics_rate // spec.fps), seconds=time.perf_counter() - t0)


def _contact_onsets(contacts: list[dict], ks, steps_per_frame: int) -> list[dict]:
    """Reduce PyBullet's per-step contact points to one event per contact of a pair.

    An event: ``{"a", "b", "frame", "end", "force", "position"}``: ``frame`` is the (fractional)
    frame of first touch, ``end`` the last frame the pair was still touching, ``force`` the
    largest normal force while the contact lasted, ``position`` where it began.
    """
    by_step: dict[float, dict[tuple[str, str], dict]] = {}
    for c in contacts:
        a, b = (ks.name_of(x) or "?" for x in c["instances"])
        pair = tuple(sorted((a, b)))
        step = by_step.setdefault(float(c["frame"]), {})
        best = step.get(pair)
        if best is None or c["force"] > best["force"]:
            step[pair] = {"force": float(c["force"]), "position": [float(v) for v in c["position"]]}
    events, open_events, previous, last = [], {}, set(), None
    for frame in sorted(by_step):
        current = set(by_step[frame])
        if last is not None and frame - last > 1.5 / steps_per_frame:  # a step with no contact at all
            previous = set()
        last = frame
        for pair in sorted(current):  # sorted: set order varies with PYTHONHASHSEED
            info = by_step[frame][pair]
            if pair not in previous:
                open_events[pair] = {"a": pair[0], "b": pair[1], "frame": frame, "end": frame, **info}
                events.append(open_events[pair])
            else:
                event = open_events[pair]
                event["force"], event["end"] = max(event["force"], info["force"]), frame
        previous = current
    return events
