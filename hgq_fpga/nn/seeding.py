"""Reproducible training in any thread: the seeds of unseeded Keras initializers from a private RNG.

``keras.utils.set_random_seed(seed)`` seeds Python's global ``random`` module, and Keras draws the
seed of every initializer (and ``SeedGenerator``) built without one from that module
(``randint``) at construction time. That global generator is shared by every thread of the
process. In a Dask worker the event-loop thread draws from it too (heartbeat and retry jitter in
tornado and distributed), between ``set_random_seed`` and the layers' construction, at moments
that depend on timing. So the same seed gave other initial weights, and other results, on a
worker than in the main process, and differed from one run to the next on the same worker.

:func:`seeded` gives a block its own ``random.Random(seed)`` for those draws, so what the model
gets no longer depends on any other thread. TensorFlow's op seeds already come from its own
private generator, reset by ``tf.random.set_seed``. Two runs of the same seed are then equal
(``==`` on every weight), provided no other task trains in the same process at the same time
(the sweep's workers run one task each).
"""

from __future__ import annotations

import contextlib
import random
import threading
from typing import Iterator

import keras
import numpy as np

from hgq_fpga.fixed import plain

_LOCK = threading.RLock()


def _keras_seed_module():
    """The module whose ``python_random.randint`` gives Keras' default seeds."""
    from keras.src.random import seed_generator

    if not hasattr(seed_generator, "python_random") or not hasattr(seed_generator, "make_default_seed"):
        raise RuntimeError(f"keras {keras.__version__}: keras.src.random.seed_generator no longer draws default "
                           "seeds from python_random; hgq_fpga.nn.seeding must be updated for this version")
    return seed_generator


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[random.Random]:
    """Seed Keras, NumPy, Python and TensorFlow with ``seed`` and, inside the block, draw Keras'
    default seeds from a private ``random.Random(seed)`` (yielded) instead of the process-wide one.

    Build and train the model inside the block. Blocks in other threads wait for it, since the
    generator they replace is process-wide.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {plain(seed)!r}")
    seed = int(seed)
    module = _keras_seed_module()
    with _LOCK:
        previous = module.python_random
        private = random.Random(seed)
        keras.utils.set_random_seed(seed)
        module.python_random = private
        try:
            yield private
        finally:
            module.python_random = previous
