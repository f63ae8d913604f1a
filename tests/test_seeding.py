"""hgq_fpga.nn.seeding: the same seed gives the same model while another thread uses Python's RNG."""

from __future__ import annotations

import random
import threading

import numpy as np
import pytest


def _model():
    import keras

    from hgq_fpga.nn.layers import HDense, HQuantize

    inp = keras.Input((16,))
    x = HDense(12, activation="relu")(HQuantize()(inp))
    x = HDense(8, activation="relu")(x)
    return keras.Model(inp, HDense(4)(x))


def test_seeded_models_are_equal_while_another_thread_draws():
    from hgq_fpga.nn.seeding import seeded

    stop = threading.Event()

    def draw():  # as a Dask worker's event loop does (tornado and distributed jitter)
        while not stop.is_set():
            random.random()

    noise = threading.Thread(target=draw, daemon=True)
    noise.start()
    try:
        built = []
        for _ in range(2):
            with seeded(3):
                built.append([np.asarray(w) for w in _model().weights])
    finally:
        stop.set()
        noise.join()
    assert len(built[0]) == len(built[1]) > 0
    assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(*built))
    with seeded(4):
        other = [np.asarray(w) for w in _model().weights]
    assert not all(np.array_equal(a, b, equal_nan=True) for a, b in zip(built[0], other))


def test_seeded_restores_the_process_rng_and_checks_its_seed():
    from keras.src.random import seed_generator

    from hgq_fpga.nn.seeding import seeded

    before = seed_generator.python_random
    with seeded(0) as rng:
        assert seed_generator.python_random is rng and rng is not random
    assert seed_generator.python_random is before
    with pytest.raises(TypeError, match="seed must be an int"):
        with seeded("0"):
            pass
