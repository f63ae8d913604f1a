"""Common machinery of the HGQ layers: bit-width flow between layers, EBOPs, deployment state.

Every HGQ layer answers two questions about the tensor it produces, so that the next layer can
count its multiplications' cost (training) and the converter can read exact types (deployment):

* :meth:`HLayer.output_bits` - per-element width ``ba`` of the output (float tensor, no batch axis);
* :meth:`HLayer.output_types` - per-element calibrated ``(k, i, f)`` of the output (int64 arrays).

A layer finds its producer through the Keras functional graph (``_inbound_nodes``), so widths flow
through pass-through layers (``HFlatten``, ``HReshape``, ...) without any user wiring.
"""

from __future__ import annotations

import math
import weakref
from typing import Any

import keras
import numpy as np
from keras import ops

from hgq_fpga.fixed import plain
from hgq_fpga.nn.keras_backend import readable, require_float64
from hgq_fpga.nn.quantizers.hgq import (ACTIVATION_DEFAULTS, HQuantizer, make_quantizer,
                                        serialize_quantizer)


class RangeResetter(keras.metrics.Metric):
    """Hooks an HGQ layer into ``Model.fit`` without a user callback.

    Keras calls ``reset_state`` on every metric at the start of each epoch (and of ``evaluate``),
    so this resets the layer's activation ranges then. Its ``result`` reports the model's total
    training-mode EBOPs as ``ebops``, so ``fit`` logs it each epoch.

    Under JAX, Keras computes the metrics of each step in a compiled function that sees the metric
    variables only, not the layers' (it holds those itself until the epoch ends). There ``result``
    reports the EBOPs as they were at the last ``reset_state`` (the start of the epoch); at the end
    of the epoch, where the logs of ``fit`` are made, it reads the layers' EBOPs of the last step,
    as on TensorFlow.
    """

    def __init__(self, layer, **kwargs: Any) -> None:
        super().__init__(name=f"{layer.name}_hgq_state", **kwargs)
        self._layer_ref = weakref.ref(layer)
        self.ebops_at_reset = self.add_variable(shape=(), initializer="zeros", dtype="float32",
                                                name="ebops_at_reset")

    def update_state(self, *args, **kwargs) -> None:  # noqa: D401 - nothing to accumulate
        return None

    def reset_state(self) -> None:
        layer = self._layer_ref()
        if layer is None:
            return
        for q in layer.quantizers():
            q.mark_stale()
        total = self._live_ebops(layer)
        if total is not None:
            self.ebops_at_reset.assign(total)

    @staticmethod
    def _live_ebops(layer):
        """The total EBOPs of the layers connected to ``layer`` now; ``None`` where a layer's
        variable cannot be read in the present scope (a JAX step), 0.0 without multiplying layers."""
        total = 0.0
        for other in connected_hgq_layers(layer):
            var = getattr(other, "ebops_var", None)
            if var is None:
                continue
            if not readable(var):
                return None
            total = total + var.value
        return total

    def result(self):
        layer = self._layer_ref()
        if layer is None or not any(getattr(other, "ebops_var", None) is not None
                                    for other in connected_hgq_layers(layer)):
            return {}
        total = self._live_ebops(layer)
        return {"ebops": self.ebops_at_reset + 0.0 if total is None else ops.convert_to_tensor(total) + 0.0}


class HLayer(keras.layers.Layer):
    """Base class of all HGQ layers (not used directly).

    Args:
        beta: weight of this layer's EBOPs in the loss (``loss += beta * EBOPs``); changeable during
            training, e.g. by :class:`hgq_fpga.nn.callbacks.BetaScheduler`.
    """

    #: whether the layer multiplies by weights (and so has an EBOPs cost)
    has_ebops = False

    def __init__(self, beta: float = 0.0, **kwargs: Any) -> None:
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.beta_init = float(beta)
        self._hgq_state = RangeResetter(self)
        if self.has_ebops:
            self.beta = self.add_weight(name="beta", shape=(),
                                        initializer=keras.initializers.Constant(self.beta_init),
                                        trainable=False, dtype="float32")
            self.ebops_var = self.add_weight(name="ebops", shape=(), initializer="zeros",
                                             trainable=False, dtype="float32")

    # ------------------------------------------------------------- quantizers
    def quantizers(self) -> list[HQuantizer]:
        """All quantizers owned by this layer."""
        return [q for q in self._layers if isinstance(q, HQuantizer)]

    @property
    def calibrated(self) -> bool:
        """True once :func:`hgq_fpga.calibrate` fixed this layer's types."""
        qs = self.quantizers()
        return all(q.calibrated for q in qs) if qs else True

    def reset_ranges(self) -> None:
        for q in self.quantizers():
            q.reset_ranges()

    def set_recording(self, on: bool) -> None:
        for q in self.quantizers():
            q.recording = on

    def calibrate_types(self, margin: int = 0) -> None:
        """Fix every ``(k, i, f)`` of this layer (called by calibration)."""

    def uncalibrate(self) -> None:
        """Back to training mode (the fixed types are kept but not used)."""
        for q in self.quantizers():
            q.calibrated = False

    # ----------------------------------------------------------- graph access
    def producer(self, index: int = 0) -> tuple[keras.layers.Layer, int]:
        """``(layer, output index)`` that produces this layer's input number ``index``."""
        if not self._inbound_nodes:
            raise ValueError(f"layer {self.name!r} is not connected in a functional/Sequential model, "
                             "so the bit widths of its input are unknown")
        tensors = self._inbound_nodes[0].input_tensors
        if index >= len(tensors):
            raise ValueError(f"layer {self.name!r} has no input {index}")
        hist = tensors[index]._keras_history
        return hist.operation, hist.tensor_index

    def num_inputs(self) -> int:
        return len(self._inbound_nodes[0].input_tensors) if self._inbound_nodes else 1

    def _hgq_producer(self, index: int) -> "HLayer":
        layer, _ = self.producer(index)
        if not isinstance(layer, HLayer):
            raise ValueError(
                f"input {index} of HGQ layer {self.name!r} comes from {type(layer).__name__} "
                f"{layer.name!r}, which is not an HGQ layer; put an HQuantize layer in front so the "
                "input has a known bit width")
        return layer

    def input_bits(self, index: int = 0):
        """Per-element width of input ``index`` (float32 tensor without the batch axis)."""
        return self._hgq_producer(index).output_bits()

    def input_types(self, index: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Calibrated per-element ``(k, i, f)`` of input ``index`` (int64 arrays, no batch axis)."""
        return self._hgq_producer(index).output_types()

    def output_bits(self):
        """Per-element width of the output (float32 tensor without the batch axis)."""
        raise NotImplementedError

    def output_types(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Calibrated per-element ``(k, i, f)`` of the output (int64 arrays, no batch axis)."""
        raise NotImplementedError

    def output_modes(self) -> tuple[str, str]:
        """``(round, overflow)`` modes of the output cast."""
        raise NotImplementedError

    # ------------------------------------------------------------------ EBOPs
    def compute_ebops(self):
        """Training-mode EBOPs of this layer from the current variables (0 if it does not multiply)."""
        return ops.convert_to_tensor(0.0)

    def exact_ebops(self) -> int:
        """Exact EBOPs from the calibrated types (0 if it does not multiply)."""
        return 0

    def _track_ebops(self, ebops, cost=None) -> None:
        """Add ``beta * cost`` (default: ``ebops``) to the loss and remember ``ebops`` for logging."""
        self.add_loss(self.beta * (ebops if cost is None else cost))
        self.ebops_var.assign(ops.stop_gradient(ebops))

    def check_exact(self) -> None:
        """Raise if calibrated-mode float64 arithmetic could be inexact (called by calibration)."""

    def get_config(self) -> dict:
        config = super().get_config()
        config["beta"] = float(keras.ops.convert_to_numpy(self.beta)) if self.has_ebops else self.beta_init
        return config


class HOutputQuantized(HLayer):
    """An HGQ layer whose result passes through its own activation quantizer ``self.oq``.

    The output widths, calibrated types and rounding/overflow modes are those of ``oq``; in
    calibrated mode the layer computes in float64 (see :meth:`out_dtype`).

    Args:
        output_quantizer: options for the output :class:`~hgq_fpga.nn.quantizers.hgq.HQuantizer` (a dict),
            e.g. ``{"overflow_mode": "SAT", "round_mode": "RND", "granularity": "per_channel"}``.
        beta: see :class:`HLayer`.
    """

    def __init__(self, output_quantizer: dict | None = None, beta: float = 0.0, **kwargs: Any) -> None:
        super().__init__(beta=beta, **kwargs)
        self.oq = make_quantizer(output_quantizer, ACTIVATION_DEFAULTS, "output_quantizer")

    def _calibrated_for(self, training) -> bool:
        """Whether :meth:`call` runs the exact deployment path; refuses to train a calibrated layer.

        Calibrated mode is exact integer arithmetic in float64 without gradients, and its types
        were fixed for the weights at calibration: training it would either do nothing or leave
        types that no longer fit the weights.
        """
        if not self.oq.calibrated:
            return False
        require_float64(f"{type(self).__name__} {self.name!r}")
        if training:
            raise self.training_refused()
        return True

    def training_refused(self) -> ValueError:
        """The error that training this calibrated layer raises (also raised by ``fit`` up front)."""
        return ValueError(f"{type(self).__name__} {self.name!r} is calibrated (exact calibrated mode, no "
                          "gradients) and cannot be trained; run hgq_fpga.nn.calibration.uncalibrate(model) "
                          "to train again, then hgq_fpga.calibrate(model, x) before converting")

    def out_dtype(self) -> str:
        """``"float64"`` once calibrated (exact arithmetic), ``"float32"`` in training mode."""
        return "float64" if self.oq.calibrated else "float32"

    def output_bits(self):
        return self.oq.activation_bits()

    def output_types(self):
        return self.oq.fixed_types()

    def output_modes(self) -> tuple[str, str]:
        return self.oq.round_mode, self.oq.overflow_mode

    def calibrate_types(self, margin: int = 0) -> None:
        self.oq.calibrate_activation(margin)

    def check_exact(self) -> None:
        """Refuse an output type wider than float64 holds exactly: calibrated-mode values of it
        would round in Keras while the firmware keeps every bit."""
        check_width_float64_exact(self, self.oq.fixed_types(), "output")

    def get_config(self) -> dict:
        config = super().get_config()
        config["output_quantizer"] = serialize_quantizer(self.oq)
        return config


#: significand bits of float64: integers up to 2**53 are exact, so are sums and products below it
FLOAT64_BITS = 53


def check_float64_exact(layer: keras.layers.Layer, bound: np.ndarray, f: np.ndarray, what: str,
                        hint: str) -> None:
    """Raise unless every value ``|v| <= bound`` on the grid ``2^-f`` fits float64's 53 bits.

    Calibrated mode computes sums and products of calibrated values in float64; they are exact
    exactly when this holds for every intermediate. ``what`` names the quantity (``{j}`` is
    replaced by the flat index of the worst element), ``hint`` says how to fix it.
    """
    bound = np.asarray(bound, np.float64)
    with np.errstate(divide="ignore"):
        bits = np.where(bound > 0, np.log2(np.where(bound > 0, bound, 1.0)) + f, 0.0)
    if np.any(bits > FLOAT64_BITS - 1e-9):
        j = int(np.argmax(bits))
        raise ValueError(f"{type(layer).__name__} {layer.name!r}: {what.format(j=j)} needs about "
                         f"{math.ceil(bits.reshape(-1)[j])} bits, more than the {FLOAT64_BITS} that "
                         f"float64 holds exactly; calibrated-mode inference cannot be exact. {hint}")


def check_width_float64_exact(layer: keras.layers.Layer, types, what: str) -> None:
    """Raise unless every element of the ``(k, i, f)`` arrays ``types`` is at most 53 bits wide."""
    k, i, f = (np.asarray(t) for t in types)
    width = k + i + f
    if width.size and int(width.max()) > FLOAT64_BITS:
        raise ValueError(f"{type(layer).__name__} {layer.name!r}: the {what} is up to "
                         f"{int(width.max())} bits wide, more than the {FLOAT64_BITS} that float64 "
                         "holds exactly; calibrated-mode inference cannot be exact. Lower the bit "
                         "widths feeding it (fewer fractional or integer bits)")


def int_tuple(value: Any, rank: int, what: str, owner: str) -> tuple[int, ...]:
    """``value`` (an int, or a sequence of ``rank`` ints) as ``rank`` positive ints.

    Raises a ValueError naming ``owner`` and the argument ``what`` otherwise.
    """
    t = tuple(int(a) for a in value) if isinstance(value, (tuple, list)) else (int(value),) * rank
    if len(t) != rank or min(t) < 1:
        raise ValueError(f"{owner} {what} must be {rank} positive integer(s), got {plain(value)!r}")
    return t


def is_hgq_layer(layer: Any) -> bool:
    return isinstance(layer, HLayer)


def connected_hgq_layers(layer: keras.layers.Layer) -> list[HLayer]:
    """All HGQ layers reachable from ``layer`` through the functional graph (``layer`` included)."""
    seen: dict[int, keras.layers.Layer] = {}
    stack = [layer]
    while stack:
        op = stack.pop()
        if id(op) in seen:
            continue
        seen[id(op)] = op
        for node in getattr(op, "_inbound_nodes", []):
            for t in node.input_tensors:
                stack.append(t._keras_history.operation)
        for node in getattr(op, "_outbound_nodes", []):
            stack.append(node.operation)
    return [op for op in seen.values() if isinstance(op, HLayer)]


def hgq_layers(model: keras.Model) -> list[HLayer]:
    """The HGQ layers of ``model`` in order."""
    return [l for l in model._flatten_layers(include_self=False) if isinstance(l, HLayer)]

