"""Model factories shared by the test files."""

from __future__ import annotations


def build_hgq_mlp(n_in: int, hidden: int, n_out: int, names=(None, None, None), **hidden_options):
    """``Input(n_in) -> HQuantize -> HDense(hidden, relu) -> HDense(n_out)``, uncalibrated.

    ``names`` names the three layers (None: Keras picks), ``hidden_options`` go to the hidden HDense.
    """
    import keras

    from hgq_fpga.nn.layers import HDense, HQuantize

    inp = keras.Input((n_in,))
    x = HQuantize(name=names[0])(inp)
    x = HDense(hidden, activation="relu", name=names[1], **hidden_options)(x)
    return keras.Model(inp, HDense(n_out, name=names[2])(x))

