"""Which devices Cycles renders on: ``render.device=cpu|cuda|optix`` and ``render.gpus`` (indices of the
visible GPUs of that kind; empty: all of them). Imports bpy only when asked (a physics worker never
loads Blender)."""
from __future__ import annotations

DEVICES = ("cpu", "cuda", "optix")


class DeviceError(RuntimeError):
    """The requested render device is not here; the message is one line."""


def gpu_names(kind: str) -> list[str]:
    """Names of the GPUs Cycles sees for ``kind`` (cuda | optix) on this machine."""
    import bpy

    prefs = bpy.context.preferences.addons["cycles"].preferences
    return [d.name for d in prefs.get_devices_for_type(kind.upper()) if d.type == kind.upper()]


def check(device: str, gpus=()) -> list[str]:
    """The GPUs a render would use, or a one-line ``DeviceError`` (before any work starts)."""
    if device not in DEVICES:
        raise DeviceError(f"render.device={device!r}; choose from {DEVICES}")
    if device == "cpu":
        return []
    names = gpu_names(device)
    if not names:
        raise DeviceError(f"render.device={device}: Cycles sees no {device.upper()} GPU on this machine "
                          "(use render.device=cpu, or run where GPUs are)")
    bad = [g for g in gpus if not 0 <= int(g) < len(names)]
    if bad:
        raise DeviceError(f"render.gpus={list(gpus)}: this machine has {len(names)} {device.upper()} GPU(s)")
    return [names[int(g)] for g in gpus] if gpus else names


def use(scene, device: str, gpus=()) -> list[str]:
    """Switch a Blender scene's Cycles to ``device`` (all visible GPUs of that kind, or ``gpus``)."""
    if device == "cpu":
        scene.cycles.device = "CPU"
        return []
    import bpy

    chosen = set(check(device, gpus))
    prefs = bpy.context.preferences.addons["cycles"].preferences
    prefs.compute_device_type = device.upper()
    for d in prefs.get_devices_for_type(device.upper()):
        d.use = d.type == device.upper() and d.name in chosen
    scene.cycles.device = "GPU"
    return sorted(chosen)
