"""Import Kubric on today's packages.

Import ``kb`` from here, never ``kubric`` directly: this module first makes the TensorFlow file
functions Kubric needs available (see ``tf_gfile``; a bare ``import kubric`` works only where its
start-up hook is installed). The Blender 4.5 fixes live in ``blender45`` and are applied when the
render layer is imported.
"""
from __future__ import annotations

import logging

from datagen.kubric_compat import tf_gfile

TF_STAND_IN = tf_gfile.install()

import kubric as kb  # noqa: E402  (must follow the stand-in)

# Kubric logs every asset copy at INFO through absl; keep our logs readable.
logging.getLogger("kubric").setLevel(logging.WARNING)

__all__ = ["kb", "TF_STAND_IN"]
