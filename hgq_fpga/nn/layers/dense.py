"""HDense: a dense layer with per-weight quantized kernel and bias and per-activation quantized output."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from hgq_fpga.nn.layers.linear import HLinear

_register = keras.saving.register_keras_serializable(package="hgq_fpga")


@_register
class HDense(HLinear):
    """Dense layer on the last axis: ``y = q_out(act(x @ q_w(W) + q_b(b)))``.

    The cost ``EBOPs = sum_ij ba(x_i) * bw(W_ij)`` uses the widths of the input (read from the
    producing HGQ layer); see :class:`~hgq_fpga.nn.layers.linear.HLinear` for the other arguments
    (activation, use_bias, initializers, quantizer options, beta) and the deployment arithmetic.

    Args:
        units: output size.
    """

    foldable = True

    def __init__(self, units: int, activation: str | None = None, **kwargs: Any) -> None:
        super().__init__(activation=activation, **kwargs)
        self.units = int(units)
        if self.units < 1:
            raise ValueError(f"HDense units must be >= 1, got {units}")

    def build(self, input_shape) -> None:
        n_in = int(input_shape[-1])
        self._build_weights((n_in, self.units), tuple(input_shape[1:-1]) + (self.units,))

    def apply_kernel(self, x, w):
        return ops.matmul(x, w)

    def compute_output_spec(self, x):
        return keras.KerasTensor(tuple(x.shape[:-1]) + (self.units,), dtype=self.out_dtype())

    def get_config(self) -> dict:
        config = super().get_config()
        config["units"] = self.units
        return config
