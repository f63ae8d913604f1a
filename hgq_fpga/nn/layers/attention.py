"""HMultiHeadAttention: a recipe that builds Keras's multi-head attention from the HGQ primitives.

Calling ``HMultiHeadAttention(num_heads, key_dim)(query, value)`` on symbolic tensors adds these
layers to the functional model (names prefixed with the recipe's ``name``), with the equations of
``keras.layers.MultiHeadAttention`` for inputs ``(batch, length, dim)``:

* ``<name>_query``, ``<name>_key``, ``<name>_value``: :class:`HEinsumDense` projections
  ``"abc,cde->abde"`` to ``(length, num_heads, key_dim)`` (``value_dim`` for the value);
* ``<name>_scores``: :class:`HEinsum` ``"aecd,abcd->acbe"`` of key and query, to
  ``(num_heads, query length, key length)``;
* ``<name>_softmax``: :class:`HSoftmax` over the key axis;
* ``<name>_combine``: :class:`HEinsum` ``"acbe,aecd->abcd"`` of the probabilities and the value;
* ``<name>_output``: :class:`HEinsumDense` ``"abcd,cde->abe"`` back to ``output_shape``.

The model then holds only primitive layers: it calibrates, counts EBOPs, saves, loads and freezes
like any other. Keras multiplies the projected query by ``1/sqrt(key_dim)``; here that constant is
part of the learned query projection (a post-training quantization of a float
``MultiHeadAttention`` folds it into the query kernel and bias). Masks, dropout and
``return_attention_scores`` are not supported.
"""

from __future__ import annotations

from typing import Any

import keras

from hgq_fpga.nn.layers.einsum_dense import HEinsumDense
from hgq_fpga.nn.layers.products import HEinsum
from hgq_fpga.nn.layers.softmax import HSoftmax

#: Keras's equations for rank-3 inputs (batch, length, dim) and one attention axis
PROJECTION = "abc,cde->abde"
SCORES = "aecd,abcd->acbe"
COMBINE = "acbe,aecd->abcd"
OUTPUT = "abcd,cde->abe"


class HMultiHeadAttention:
    """Multi-head attention from HGQ primitives (see the module doc); call it on ``(query, value)``
    or ``(query, value, key)`` symbolic tensors of shape ``(batch, length, dim)``.

    Args:
        num_heads: number of attention heads.
        key_dim: size of each head for query and key.
        value_dim: size of each head for the value (default ``key_dim``).
        output_shape: last axis of the output (default the query's last axis).
        use_bias: biases in the four projections.
        name: prefix of the layer names.
        projection: options for the four :class:`HEinsumDense` projections (quantizers, beta...).
        scores_quantizer, combine_quantizer: output quantizer options of the two :class:`HEinsum`.
        softmax: options for the :class:`HSoftmax`.
    """

    def __init__(self, num_heads: int, key_dim: int, value_dim: int | None = None,
                 output_shape: int | None = None, use_bias: bool = True, name: str | None = None,
                 projection: dict | None = None, scores_quantizer: dict | None = None,
                 combine_quantizer: dict | None = None, softmax: dict | None = None) -> None:
        if int(num_heads) < 1 or int(key_dim) < 1:
            raise ValueError(f"HMultiHeadAttention needs num_heads >= 1 and key_dim >= 1, got "
                             f"{num_heads}, {key_dim}")
        self.num_heads, self.key_dim = int(num_heads), int(key_dim)
        self.value_dim = int(value_dim) if value_dim is not None else self.key_dim
        self.output_dim = output_shape
        self.bias = "de" if use_bias else None
        self.name = name or f"h_multi_head_attention_{keras.backend.get_uid('h_multi_head_attention')}"
        self.projection = dict(projection or {})
        self.scores_quantizer, self.combine_quantizer = scores_quantizer, combine_quantizer
        self.softmax = dict(softmax or {})
        if "axis" in self.softmax or "name" in self.softmax:
            raise ValueError("HMultiHeadAttention softmax options may not set 'axis' or 'name' (the "
                             "softmax runs over the key axis)")

    def _project(self, x, heads_dim: int, part: str):
        return HEinsumDense(PROJECTION, (None, self.num_heads, heads_dim), bias_axes=self.bias,
                            name=f"{self.name}_{part}", **self.projection)(x)

    def __call__(self, query, value, key=None, **unsupported: Any):
        if unsupported:
            raise ValueError(f"HMultiHeadAttention {self.name!r} does not support "
                             f"{', '.join(sorted(unsupported))} (no masks, dropout or returned scores)")
        for t, what in ((query, "query"), (value, "value"), (key, "key")):
            if t is not None and len(t.shape) != 3:
                raise ValueError(f"HMultiHeadAttention {self.name!r}: the {what} must be (batch, length, "
                                 f"dim), got {tuple(t.shape)}")
        key = value if key is None else key
        q = self._project(query, self.key_dim, "query")
        k = self._project(key, self.key_dim, "key")
        v = self._project(value, self.value_dim, "value")
        scores = HEinsum(SCORES, output_quantizer=self.scores_quantizer, name=f"{self.name}_scores")([k, q])
        probs = HSoftmax(axis=-1, name=f"{self.name}_softmax", **self.softmax)(scores)
        combined = HEinsum(COMBINE, output_quantizer=self.combine_quantizer,
                           name=f"{self.name}_combine")([probs, v])
        out_dim = int(self.output_dim if self.output_dim is not None else query.shape[-1])
        return HEinsumDense(OUTPUT, (None, out_dim), bias_axes="e" if self.bias else None,
                            name=f"{self.name}_output", **self.projection)(combined)
