"""The Keras side: everything of hgq_fpga that imports Keras.

* :mod:`.quantizers` - the trainable HGQ quantizer (one object per quantized tensor);
* :mod:`.layers` - the HGQ layer set;
* :mod:`.calibration` - fix every tensor's ``(k, i, f)`` from data;
* :mod:`.ebops` - the differentiable resource cost, and the β that weighs it;
* :mod:`.ii_cost` - EBOPs per II, the optional cost of a model built at an initiation interval > 1;
* :mod:`.adder_cost` - the adder count as an optional training cost, and the γ that weighs it;
* :mod:`.callbacks` - β schedules and Pareto checkpoints for ``Model.fit``;
* :mod:`.recipe` - the standard training recipe (β ramp, Pareto front, choice);
* :mod:`.freeze` - freeze a calibrated Keras model into the firmware IR (``to_firmware``).

Nothing below this package (:mod:`hgq_fpga.ir`, :mod:`hgq_fpga.backends`) imports it.

It runs on the Keras backends TensorFlow and JAX and refuses any other on import; under JAX it turns
on 64-bit types (:mod:`.keras_backend`).
"""

from hgq_fpga.nn.keras_backend import require_supported

require_supported()
