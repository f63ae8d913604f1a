"""Index tables of contractions, reductions and transposes: which input elements each output reads.

The IR's contraction ops are written as einsum equations over per-sample axes (no batch axis),
with explicit letters only, e.g. ``"nf,fm->nm"`` (a Dense per particle) or ``"qd,kd->qk"``
(attention scores). Everything the emulator, the type inference and the backends need is derived
here once, as integer index tables into the flattened (C-order) operands:

* :func:`constant_index` - an operand times a constant kernel (``EinsumDense``): grouped as
  positions ``P`` (input letters kept in the output), contracted taps ``J`` (input letters summed
  over) and kernel outputs ``O`` (kernel letters of the output only), so that
  ``out[p, o] = Σ_j x[idx[p, j]] · w[widx[p, j, o]]``;
* :func:`product_index` - a product of two variable operands (``Einsum``): per output element
  ``e`` the terms ``a[ia[e, t]] · b[ib[e, t]]`` over the summed letters. An operand axis of size 1
  is broadcast against the other operand's size (numpy's rule), so an element-wise product with
  broadcasting is the einsum ``"ab,ab->ab"``;
* :func:`reduce_index` - a sum or maximum over some axes;
* :func:`broadcast_shape` - numpy broadcasting of per-sample shapes of equal rank.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def parse_equation(equation: str, operands: int) -> tuple[list[str], str]:
    """``(operand terms, output term)`` of an explicit einsum equation; a ValueError otherwise."""
    if not isinstance(equation, str) or "->" not in equation or "." in equation:
        raise ValueError(f"einsum equation {equation!r} must be explicit: '<terms>-><output>' with "
                         "letters only (no '...')")
    left, out = equation.replace(" ", "").split("->")
    terms = left.split(",")
    if len(terms) != operands:
        raise ValueError(f"einsum equation {equation!r} has {len(terms)} operand(s), expected {operands}")
    for term in terms + [out]:
        if not all(c.isalpha() and c.isascii() for c in term):
            raise ValueError(f"einsum equation {equation!r}: terms must be ASCII letters")
        if len(set(term)) != len(term):
            raise ValueError(f"einsum equation {equation!r}: a letter repeats within the term {term!r}")
    if not set(out) <= set("".join(terms)):
        raise ValueError(f"einsum equation {equation!r}: the output names a letter no operand has")
    return terms, out


def _sizes(equation: str, terms: list[str], shapes: list[tuple[int, ...]],
           broadcast: bool) -> dict[str, int]:
    """Size of each letter; with ``broadcast`` an operand's size 1 yields to another's."""
    sizes: dict[str, int] = {}
    for term, shape in zip(terms, shapes):
        if len(term) != len(shape):
            raise ValueError(f"einsum equation {equation!r}: term {term!r} has {len(term)} letters "
                             f"for an operand of shape {tuple(shape)}")
        for c, n in zip(term, shape):
            n = int(n)
            if c not in sizes or (broadcast and sizes[c] == 1):
                sizes[c] = n
            elif sizes[c] != n and not (broadcast and n == 1):
                raise ValueError(f"einsum equation {equation!r}: letter {c!r} has sizes {sizes[c]} "
                                 f"and {n}")
    return sizes


def _flat_index(term: str, shape: tuple[int, ...], grid: dict[str, np.ndarray]) -> np.ndarray:
    """Flat C-order index of the operand ``term`` at every point of ``grid`` (size-1 axes pinned)."""
    index = grid["_"]
    for c, n in zip(term, shape):
        index = index * int(n) + (grid[c] if n > 1 else 0)
    return index


def _grid(groups: list[str], sizes: dict[str, int]) -> dict[str, np.ndarray]:
    """Coordinates of every letter over the product of ``groups`` (one array axis per group);
    ``"_"`` holds zeros of the grid's shape."""
    dims = [int(np.prod([sizes[c] for c in g], dtype=np.int64)) for g in groups]
    grid: dict[str, np.ndarray] = {"_": np.zeros(dims, np.int64)}
    for g, group_axis in zip(groups, np.indices(dims, dtype=np.int64)):
        rest = group_axis
        for c in reversed(g):
            grid[c] = rest % sizes[c]
            rest = rest // sizes[c]
    return grid


@dataclass(frozen=True)
class ConstantIndex:
    """Index tables of an operand-times-kernel contraction (see :func:`constant_index`)."""

    idx: np.ndarray          # (P, J) flat operand index
    widx: np.ndarray         # (P or 1, J, O) flat kernel index
    out_index: np.ndarray    # (P, O) flat output index
    out_shape: tuple[int, ...]


def constant_index(equation: str, x_shape: tuple[int, ...], w_shape: tuple[int, ...]) -> ConstantIndex:
    """Index tables of ``einsum(equation, x, w)`` for a constant kernel ``w``.

    Positions ``P``: the output letters that ``x`` has; kernel outputs ``O``: the output letters
    only the kernel has; taps ``J``: the letters of ``x`` that the output lacks. Every kernel letter
    must be in ``x`` or in the output (as Keras's ``EinsumDense`` requires). Positions whose
    letters the kernel lacks share the kernel (``widx`` has one row then).
    """
    (xt, wt), out = parse_equation(equation, 2)
    sizes = _sizes(equation, [xt, wt], [x_shape, w_shape], broadcast=False)
    stray = [c for c in wt if c not in xt and c not in out]
    if stray:
        raise ValueError(f"einsum equation {equation!r}: kernel letter(s) {stray} are in neither the "
                         "input nor the output")
    pos = "".join(c for c in out if c in xt)
    kout = "".join(c for c in out if c not in xt)
    taps = "".join(c for c in xt if c not in out)
    shared = any(c in wt for c in pos)
    grid = _grid([pos, taps, kout], sizes)
    idx = _flat_index(xt, x_shape, grid)[:, :, 0]
    widx = _flat_index(wt, w_shape, grid)
    if not shared:
        widx = widx[:1]
    out_shape = tuple(sizes[c] for c in out)
    out_index = _flat_index(out, out_shape, grid)[:, 0, :]
    return ConstantIndex(idx, widx, out_index, out_shape)


@dataclass(frozen=True)
class ProductIndex:
    """Index tables of a two-operand product (see :func:`product_index`)."""

    ia: np.ndarray           # (E, T) flat index into operand a
    ib: np.ndarray           # (E, T) flat index into operand b
    out_shape: tuple[int, ...]


def product_index(equation: str, a_shape: tuple[int, ...], b_shape: tuple[int, ...],
                  broadcast: bool = True) -> ProductIndex:
    """Index tables of ``einsum(equation, a, b)``: output elements ``E`` (C order) by summed terms ``T``.

    An axis of size 1 in one operand broadcasts against the other's (numpy's rule) unless
    ``broadcast`` is False (then the sizes of a letter must agree).
    """
    (at, bt), out = parse_equation(equation, 2)
    sizes = _sizes(equation, [at, bt], [a_shape, b_shape], broadcast=broadcast)
    summed = "".join(c for c in dict.fromkeys(at + bt) if c not in out)
    grid = _grid([out, summed], sizes)
    out_shape = tuple(sizes[c] for c in out)
    return ProductIndex(_flat_index(at, a_shape, grid), _flat_index(bt, b_shape, grid), out_shape)


def product_terms(equation: str, shapes: list[tuple[int, ...]]) -> int:
    """Products an einsum of two operands computes: output elements times summed terms."""
    terms, _ = parse_equation(equation, 2)
    sizes = _sizes(equation, terms, shapes, broadcast=True)
    return int(np.prod(list(sizes.values()), dtype=np.int64))


def reduce_index(shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool
                 ) -> tuple[np.ndarray, tuple[int, ...]]:
    """``(idx (E, T), output shape)`` of a reduction over ``axes`` of a tensor of ``shape``."""
    rank = len(shape)
    axes = normalise_axes(axes, rank)
    letters = "abcdefghijklmnopqrstuvwxyz"[:rank]
    kept = "".join(c for n, c in enumerate(letters) if n not in axes)
    summed = "".join(c for n, c in enumerate(letters) if n in axes)
    sizes = dict(zip(letters, (int(s) for s in shape)))
    grid = _grid([kept, summed], sizes)
    idx = _flat_index(letters, shape, grid)
    out_shape = tuple(1 if n in axes else int(s) for n, s in enumerate(shape)) if keepdims \
        else tuple(int(s) for n, s in enumerate(shape) if n not in axes)
    return idx, out_shape


def normalise_axes(axes, rank: int) -> tuple[int, ...]:
    """Per-sample axes (negative counting from the end) as sorted non-negative ints."""
    axes = (axes,) if isinstance(axes, (int, np.integer)) else tuple(axes)
    out = sorted({int(a) % rank if -rank <= int(a) < rank else -1 for a in axes})
    if not axes or -1 in out:
        raise ValueError(f"axes {axes} do not name axes of a rank-{rank} tensor")
    return tuple(out)


def broadcast_shape(shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
    """The numpy broadcast of per-sample shapes of equal rank; a ValueError naming them otherwise."""
    shapes = [tuple(int(s) for s in shape) for shape in shapes]
    if len({len(s) for s in shapes}) > 1:
        raise ValueError(f"shapes {shapes} have different ranks; only axes of size 1 broadcast")
    try:
        return tuple(int(n) for n in np.broadcast_shapes(*shapes))
    except ValueError:
        raise ValueError(f"shapes {shapes} do not broadcast (an axis differs and is not of size 1)") from None
