"""The two-stage n-hot schedule (Sakuma et al., arXiv 2103.11704; ``docs/method.md`` §8).

Stage 1 trains at a looser constraint (``n_loose`` terms per weight, or 0 = plain HGQ rounding),
stage 2 fine-tunes at each quantizer's own ``n``. The switch sets the quantizers' ``n_active``
variables, so the compiled training step is reused without a retrace.
"""

from __future__ import annotations

import keras

from hgq_fpga.nn.quantizers.nhot import NHotQuantizer


def nhot_quantizers(model: keras.Model) -> list[NHotQuantizer]:
    """Every :class:`NHotQuantizer` inside ``model`` (at any depth)."""
    return [l for l in model._flatten_layers(include_self=False, recursive=True)
            if isinstance(l, NHotQuantizer)]


class NHotSchedule(keras.callbacks.Callback):
    """Train the first ``loose_epochs`` epochs with ``n_loose`` terms, then at each quantizer's ``n``.

    Args:
        loose_epochs: epochs of stage 1 (counted from the first epoch of this ``fit``).
        n_loose: terms in stage 1; 0 = plain HGQ rounding (no n-hot constraint). A positive value
            must not exceed any quantizer's ``max_terms``.
    At the end of training every quantizer is back at its own ``n`` (what calibration uses).
    """

    def __init__(self, loose_epochs: int, n_loose: int = 0) -> None:
        super().__init__()
        if int(loose_epochs) < 0 or int(n_loose) < 0:
            raise ValueError(f"NHotSchedule needs loose_epochs >= 0 and n_loose >= 0, got "
                             f"{loose_epochs}, {n_loose}")
        self.loose_epochs = int(loose_epochs)
        self.n_loose = int(n_loose)

    def _set(self, loose: bool) -> None:
        quantizers = nhot_quantizers(self.model)
        if not quantizers:
            raise ValueError("NHotSchedule: the model has no NHotQuantizer")
        for q in quantizers:
            q.set_terms(self.n_loose if loose else q.n)

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self._set(epoch < self.loose_epochs)

    def on_train_end(self, logs=None) -> None:
        self._set(False)
