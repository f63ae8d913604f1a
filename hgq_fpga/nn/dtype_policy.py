"""HGQ layers are made in float32, whatever Keras's global dtype policy.

Under a mixed policy (``keras.config.set_dtype_policy("mixed_float16")`` or ``"mixed_bfloat16"``)
every layer made without a ``dtype`` computes in 16 bits, which the exact calibrated-mode
arithmetic of HGQ layers cannot take (TensorFlow then fails inside their bit operations). Code that
makes HGQ layers for a user, the PTQ mapping and the QKeras importer, does so inside
:func:`float32_policy`; the layers keep float32 in their configuration, so they stay float32 when
the model is saved and loaded under any policy.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import keras


@contextmanager
def float32_policy() -> Iterator[None]:
    """Keras's global dtype policy set to float32 inside, and given back as it was afterwards."""
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)
