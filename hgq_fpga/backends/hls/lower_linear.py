"""Lower Dense, Conv and EinsumDense to compact sparse multiply-accumulate lists.

Both ops compute ``acc[p, o] = b[o] + Σ_j x[idx[p, j]]·w[j, o]`` over output positions ``p`` (one
for a Dense on a vector, each kernel window for a convolution).  The IR's own plan
(:func:`hgq_fpga.ir.types.linear_alignment`) says which products are done: nonzero weight,
nonzero-width input, not padding.  Each output element ``n = p·O + o`` gets the list of its terms,
``src[ptr[n] .. ptr[n+1])`` (input element) and ``code[...]`` (weight code); pruned weights,
padding and dead inputs emit nothing.  Weight codes share one ``ap_fixed`` container per layer,
the biases another (:func:`hgq_fpga.backends.hls.fxtypes.code_spec`).

For the C simulation only, :func:`integer_macs` also plans the same sums on plain 64-bit integer
codes (see ``templates/hls/ops/linear.j2``): it proves, from the containers' ranges, that no
partial sum can leave a C ``long long``, or leaves the op on its ``ap_fixed`` loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hgq_fpga.backends.common.ctables import IntTable
from hgq_fpga.backends.hls.fxtypes import code_spec
from hgq_fpga.fixed import FixedType
from hgq_fpga.backends.hls.opplan import OpPlan, TensorRef
from hgq_fpga.ir import ops as O
from hgq_fpga.ir.types import linear_alignment


#: magnitude bound of every integer in the C-simulation sums (one bit of margin under long long)
_INT64_SAFE = 1 << 62


@dataclass(frozen=True)
class IntegerMacs:
    """How the C simulation may compute a linear op on integer codes instead of ``ap_fixed``.

    Input codes are read at the input container's ``f``, weight codes at the weight container's,
    so a sum of products is the accumulator's code times ``2^-product_shift`` (``product_shift``
    may be negative: the sum is then a multiple of ``2^-product_shift`` and the division exact);
    a bias code is the accumulator's code times ``2^-bias_shift``.
    """

    product_shift: int
    bias_shift: int


@dataclass(eq=False)
class LinearPlan(OpPlan):
    positions: int
    filters: int
    ptr: IntTable
    src: IntTable
    code: IntTable
    weight: FixedType
    bias_spec: FixedType | None
    bias: IntTable
    integer_macs: IntegerMacs | None


def integer_macs(x: FixedType, weight: FixedType, bias: FixedType | None, acc: FixedType,
                 max_terms: int, max_weight_code: int, max_bias_code: int) -> IntegerMacs | None:
    """The integer-code plan of a linear op, or ``None`` when a sum might reach ``2^62``.

    Bounds: an input code is at most ``2^(i+f)`` in magnitude (its container's range), so a
    sum of ``max_terms`` products is at most ``max_terms·2^(i+f)·max_weight_code``.
    """
    if max(x.width, acc.width) > 63:
        return None
    product_shift = acc.f - x.f - weight.f
    bias_shift = acc.f - bias.f if bias is not None else 0
    if bias_shift < 0:
        return None
    products = max_terms * (1 << max(x.i + x.f, 0)) * max_weight_code
    scaled = products << max(product_shift, 0)
    if products >= _INT64_SAFE or scaled + (max_bias_code << bias_shift) >= _INT64_SAFE:
        return None
    return IntegerMacs(product_shift, bias_shift)


def lower_linear(op: O.Dense | O.Conv | O.EinsumDense, out: TensorRef, x: TensorRef) -> LinearPlan:
    """Sparse term lists, weight/bias containers and codes of a Dense, Conv or EinsumDense op.

    A Dense or Conv lists output element ``n = p·O + o`` with the bias of filter ``o``; an
    EinsumDense lists its output elements in C order, each with its own bias (one position, as
    many filters as output elements).
    """
    plan, out_shape, _ = linear_alignment(op, x.type)
    if not op.out.same_as(plan.out_type(out_shape)):
        raise ValueError(f"op {op.name!r}: stored accumulator type differs from the one derived "
                         "from its input and weights; the graph is inconsistent")
    weight, codes = code_spec(np.asarray(op.w_raw, np.int64).reshape(-1),
                              np.asarray(op.w_f, np.int64).reshape(-1), f"the weights of op {op.name!r}")
    live = np.asarray(plan.live)                                 # (P, J, O)
    pp, jj, oo = np.nonzero(live)
    n_filters = int(live.shape[2])
    element = pp * n_filters + oo if plan.out_index is None else plan.out_index[pp, oo]
    order = np.lexsort((jj, element))                            # grouped by output element n
    src = np.asarray(plan.idx)[pp, jj][order]
    term_codes = codes[plan.widx[pp if plan.widx.shape[0] > 1 else 0, jj, oo]][order]
    ptr = np.concatenate([[0], np.cumsum(np.bincount(element, minlength=out.size))])
    b_raw = np.asarray(op.b_raw, np.int64).reshape(-1)
    bias_spec, bias = code_spec(b_raw, np.asarray(op.b_f, np.int64).reshape(-1),
                                f"the biases of op {op.name!r}")
    positions = int(live.shape[0])
    if isinstance(op, O.EinsumDense):
        positions, n_filters = 1, out.size
    bias_spec = bias_spec if np.any(b_raw != 0) else None
    macs = integer_macs(x.spec, weight, bias_spec, out.spec, int(np.max(np.diff(ptr), initial=0)),
                        int(np.max(np.abs(term_codes), initial=0)),
                        int(np.max(np.abs(bias), initial=0)) if bias_spec is not None else 0)
    what = {"dense": "Dense", "einsum_dense": f"EinsumDense {getattr(op, 'equation', '')!r}"}.get(
        op.kind, f"Conv{op.w_raw.ndim - 2}D")
    summary = (f"{what} {op.name!r}: {x.shape} -> {out.shape}; {int(jj.size)} multiplications "
               f"({int(np.count_nonzero(op.w_raw))} of {op.w_raw.size} weights nonzero)")
    return LinearPlan(kind="linear", ir_kind=op.kind, out=out, inputs=[x], summary=summary,
                      positions=positions, filters=n_filters, ptr=IntTable.of(ptr),
                      src=IntTable.of(src), code=IntTable.of(term_codes), weight=weight,
                      bias_spec=bias_spec, bias=IntTable.of(bias), integer_macs=macs)
