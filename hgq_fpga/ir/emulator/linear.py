"""Dense and Conv on a batch: the aligned integer matrices of :class:`hgq_fpga.ir.types.AlignedLinear`
times the gathered raw input codes.

The product runs in float64 when every partial sum stays below ``2^52`` (exact, and BLAS-fast),
else in int64. Two's-complement sums are exact modulo ``2^64`` whenever the final result fits, so
int64 intermediate wrap-around is harmless.
"""

from __future__ import annotations

import numpy as np

from hgq_fpga.ir.types import AlignedLinear

#: multiply-adds per matmul call.  Small calls stay in cache, and OpenBLAS runs them on one thread:
#: on a busy machine its threads on small matrices cost far more than they save.
GEMM_BLOCK = 1 << 17


class LinearRunner:
    """Executes an :class:`AlignedLinear` on batches; the gather index and the matrices (float64 when
    float arithmetic is exact, else int64) are prepared once, outside the per-batch path."""

    def __init__(self, plan: AlignedLinear, in_size: int, identity_gather: bool) -> None:
        self.positions, self.taps = plan.idx.shape
        # index in_size is an extra zero column standing for the padding
        self.gather = None if identity_gather else np.where(plan.idx >= 0, plan.idx, in_size)
        self.float_exact = plan.float_exact
        dtype = np.float64 if self.float_exact else np.int64
        self.w = np.asarray(plan.wp, dtype=dtype)
        self.b = np.asarray(plan.bp, dtype=dtype)[None]
        self.block_rows = max(1, GEMM_BLOCK // max(1, self.w.shape[-2] * self.w.shape[-1]))

    def __call__(self, x_raw: np.ndarray) -> np.ndarray:
        """Accumulators ``(N, P, O)`` int64 for raw input codes ``(N, *in_shape)``."""
        n = x_raw.shape[0]
        flat = x_raw.reshape(n, -1)
        if self.gather is None:
            xg = flat.reshape(n, self.positions, self.taps)
        else:
            padded = np.concatenate([flat, np.zeros((n, 1), dtype=np.int64)], axis=1)
            xg = padded[:, self.gather]                                   # (N, P, J)
        if self.float_exact:
            xg = xg.astype(np.float64)
        acc = np.empty((n, self.positions, self.w.shape[-1]), dtype=self.w.dtype)
        xt, at = xg.transpose(1, 0, 2), acc.transpose(1, 0, 2)       # (P, N, J), (P, N, O)
        for s in range(0, n, self.block_rows):
            np.matmul(xt[:, s:s + self.block_rows], self.w, out=at[:, s:s + self.block_rows])
        # with the bias the float sum stays below types.FLOAT_EXACT, so adding it before converting is exact
        acc = np.add(acc, self.b, out=acc)
        return acc.astype(np.int64) if self.float_exact else acc
