"""Emit the firmware C++ of a :class:`FirmwareModel` (core ops: Cast, Dense, ReLU, Add, Reshape).

Design (measured by the lead): constants are plain C integer tables (``int8/16/32/64_t``, chosen by
the widest code), consumed by loops; baking ``ap_fixed`` constants makes g++ build one constructor per
element and takes minutes.  Every tensor element is held as an exact ``long long`` raw code at its own
fractional bit count; the IR guarantees every declared width is <= 62, so integer arithmetic is exact.
Dense weights are pre-shifted in Python to the accumulator's ``f`` (the shift is exact), so the inner
loop is one multiply-add; pruned (zero) weights are skipped by compacting each output's weight list.
Casts go through one helper (``hgq_cast``) that applies rounding and overflow on raw bits with
per-element shift/width tables; after a full unroll, HLS constant-folds it per element.
"""

from __future__ import annotations

import numpy as np

from hgq_fpga.ir import ops as O
from hgq_fpga.ir.tensor import TensorType

ROUND_ID = {"TRN": 0, "TRN_ZERO": 1, "RND": 2, "RND_ZERO": 3, "RND_MIN_INF": 4, "RND_INF": 5,
            "RND_CONV": 6}
OVF_ID = {"WRAP": 0, "SAT": 1, "SAT_SYM": 2, "SAT_ZERO": 3}

HELPERS = r"""
typedef long long hgq_raw;

// Cast raw code m (fractional bits f_in) to a type with fractional bits f_in - d, width w, sign k.
static inline hgq_raw hgq_cast(hgq_raw m, int d, int w, int k, int rnd, int ovf) {
    #pragma HLS INLINE
    if (w <= 0) return 0;
    hgq_raw q;
    if (d <= 0) {
        q = (hgq_raw)((unsigned long long)m << (-d));
    } else {
        hgq_raw fl = m >> d;                         // floor
        hgq_raw fr = m - (fl << d);                  // 0 <= fr < 2^d
        hgq_raw half = (hgq_raw)1 << (d - 1);
        int neg = m < 0;
        int up = 0;
        switch (rnd) {
            case 0: up = 0; break;
            case 1: up = (fr != 0) && neg; break;
            case 2: up = fr >= half; break;
            case 3: up = fr > half || (fr == half && neg); break;
            case 4: up = fr > half; break;
            case 5: up = fr > half || (fr == half && !neg); break;
            default: up = fr > half || (fr == half && (fl & 1)); break;
        }
        q = fl + up;
    }
    hgq_raw lo = k ? -((hgq_raw)1 << (w - 1)) : 0;
    hgq_raw hi = ((hgq_raw)1 << (w - k)) - 1;
    switch (ovf) {
        case 0: {
            unsigned long long mask = (w >= 64) ? ~0ULL : ((1ULL << w) - 1);
            unsigned long long u = ((unsigned long long)(q - lo)) & mask;
            return (hgq_raw)u + lo;
        }
        case 1: return q < lo ? lo : (q > hi ? hi : q);
        case 2: {
            hgq_raw l2 = (k && w > 1) ? -hi : lo;
            return q < l2 ? l2 : (q > hi ? hi : q);
        }
        default: return (q < lo || q > hi) ? 0 : q;
    }
}
"""


def _ctype(a: np.ndarray) -> str:
    m = int(np.abs(a).max()) if a.size else 0
    for bits, name in ((7, "signed char"), (15, "short"), (31, "int")):
        if m < (1 << bits):
            return name
    return "long long"


def _table(name: str, a: np.ndarray) -> str:
    a = np.asarray(a, dtype=np.int64).ravel()
    body = ",".join(str(int(v)) for v in a) if a.size else "0"
    return f"static const {_ctype(a)} {name}[{max(a.size, 1)}] = {{{body}}};\n"


class Emitter:
    """Turns a FirmwareModel into one C++ translation unit (function ``<top>``)."""

    def __init__(self, fw, top: str) -> None:
        self.fw = fw
        self.top = top
        self.tables: list[str] = []
        self.body: list[str] = []
        self.n = 0

    def _id(self, name: str) -> str:
        return "t_" + "".join(c if c.isalnum() else "_" for c in name)

    def _uniq(self, base: str) -> str:
        self.n += 1
        return f"{base}_{self.n}"

    def size(self, name: str) -> int:
        return int(np.prod(self.fw.types[name].shape, dtype=np.int64))

    def cast_code(self, src: str, dst: str, f_in: np.ndarray, out: TensorType, rnd: str,
                  ovf: str) -> None:
        n = out.k.size
        d = np.broadcast_to(f_in, out.shape).ravel() - out.f.ravel()
        d = np.where(out.width.ravel() > 0, d, 0)
        dn, wn, kn = self._uniq("cd"), self._uniq("cw"), self._uniq("ck")
        self.tables += [_table(dn, d), _table(wn, out.width), _table(kn, out.k)]
        self.body.append(
            f"    for (int e = 0; e < {n}; e++) {{\n        #pragma HLS UNROLL\n"
            f"        {dst}[e] = hgq_cast({src}[e], {dn}[e], {wn}[e], {kn}[e], "
            f"{ROUND_ID[rnd]}, {OVF_ID[ovf]});\n    }}\n")

    def op(self, op: O.Op) -> None:
        dst = self._id(op.name)
        n = self.size(op.name)
        self.body.append(f"    hgq_raw {dst}[{max(n, 1)}];\n"
                         f"    #pragma HLS ARRAY_PARTITION variable={dst} complete\n")
        ins = [self._id(x) for x in op.inputs]
        tin = [self.fw.types[x] for x in op.inputs]
        if isinstance(op, O.Cast):
            self.cast_code(ins[0], dst, tin[0].f, op.out, op.round, op.overflow)
        elif isinstance(op, O.Reshape):
            self.body.append(f"    for (int e = 0; e < {n}; e++) {dst}[e] = {ins[0]}[e];\n")
        elif isinstance(op, O.ReLU):
            s = np.where(op.out.live, op.out.f - tin[0].f, 0).ravel()
            if np.any(s < 0):
                raise NotImplementedError("ReLU output with fewer fractional bits than input")
            sn = self._uniq("rs")
            self.tables.append(_table(sn, s))
            self.body.append(f"    for (int e = 0; e < {n}; e++) {{\n        #pragma HLS UNROLL\n"
                             f"        {dst}[e] = {ins[0]}[e] > 0 ? ({ins[0]}[e] << {sn}[e]) : 0;\n    }}\n")
        elif isinstance(op, O.Add):
            self.body.append(f"    for (int e = 0; e < {n}; e++) {{\n        #pragma HLS UNROLL\n"
                             f"        hgq_raw s = 0;\n")
            for x, t in zip(ins, tin):
                sh = np.where(t.live & op.out.live, op.out.f - t.f, 0).ravel()
                sn = self._uniq("as")
                self.tables.append(_table(sn, sh))
                self.body.append(f"        s += {x}[e] << {sn}[e];\n")
            self.body.append(f"        {dst}[e] = s;\n    }}\n")
        elif isinstance(op, O.Table):
            tid = np.asarray(op.table_id, np.int64).ravel()
            base = (np.asarray(op.start, np.int64) - np.asarray(op.lo, np.int64))[tid]
            vn, bn = self._uniq("tv"), self._uniq("tb")
            self.tables += [_table(vn, np.asarray(op.values)), _table(bn, base)]
            self.body.append(f"    for (int e = 0; e < {n}; e++) {{\n        #pragma HLS UNROLL\n"
                             f"        {dst}[e] = {vn}[{ins[0]}[e] + {bn}[e]];\n    }}\n")
        elif isinstance(op, O.MaxPool):
            self.maxpool(op, ins[0], tin[0], dst)
        elif isinstance(op, O.Concatenate):
            self.concatenate(op, ins, tin, dst)
        elif isinstance(op, O.Dense) and len(tin[0].shape) == 1:
            self.dense(op, ins[0], tin[0], dst)
        elif isinstance(op, (O.Dense, O.Conv)):
            self.linear_probe(op, ins[0], tin[0], dst)
        else:
            raise NotImplementedError(f"HLS backend does not support {op.kind!r} yet")

    def dense(self, op: O.Dense, src: str, tin: TensorType, dst: str) -> None:
        if len(tin.shape) != 1:
            raise NotImplementedError("Dense on rank > 1 inputs is not supported yet")
        n_in, n_out = op.w_raw.shape
        fo = op.out.f.reshape(n_out)
        live_o = op.out.live.reshape(n_out)
        idx, wts, ptr = [], [], [0]
        bias = np.zeros(n_out, dtype=np.int64)
        for o in range(n_out):
            if live_o[o]:
                col = op.w_raw[:, o].astype(np.int64)
                nz = np.nonzero(col)[0]
                nz = nz[tin.live[nz]]
                sh = fo[o] - tin.f[nz] - op.w_f[nz, o]
                assert np.all(sh >= 0), "dense accumulator must be exact"
                idx += nz.tolist()
                wts += (col[nz] << sh).tolist()
                if int(op.b_raw[o]) != 0:
                    bias[o] = int(op.b_raw[o]) << int(fo[o] - op.b_f[o])
            ptr.append(len(idx))
        ii, ww, pp, bb = (self._uniq(s) for s in ("di", "dw", "dp", "db"))
        self.tables += [_table(ii, np.array(idx)), _table(ww, np.array(wts)),
                        _table(pp, np.array(ptr)), _table(bb, bias)]
        self.body.append(
            f"    for (int o = 0; o < {n_out}; o++) {{\n        #pragma HLS UNROLL\n"
            f"        hgq_raw acc = {bb}[o];\n"
            f"        for (int p = {pp}[o]; p < {pp}[o + 1]; p++) {{\n"
            f"            #pragma HLS UNROLL\n"
            f"            acc += {src}[{ii}[p]] * (hgq_raw){ww}[p];\n        }}\n"
            f"        {dst}[o] = acc;\n    }}\n")

    def concatenate(self, op: O.Concatenate, ins, tin, dst: str) -> None:
        """Copy each input's elements to their C-order positions in the output (codes unchanged)."""
        ax = op.axis if op.axis < 0 else op.axis + 1
        tags = [np.full((1, *t.shape), n, np.int64) for n, t in enumerate(tin)]
        pos = [np.arange(t.k.size, dtype=np.int64).reshape(1, *t.shape) for t in tin]
        tag = np.concatenate(tags, axis=ax).ravel()
        src_pos = np.concatenate(pos, axis=ax).ravel()
        sh_all = np.concatenate([np.broadcast_to(t.f, t.shape)[None] for t in tin], axis=ax).ravel()
        sh = np.where(op.out.live.ravel(), op.out.f.ravel() - sh_all, 0)
        if np.any(sh != 0):
            raise NotImplementedError("concatenate that changes fractional bits")
        for n, x in enumerate(ins):
            where = np.nonzero(tag == n)[0]
            dn, sn = self._uniq("cd"), self._uniq("cs")
            self.tables += [_table(dn, where), _table(sn, src_pos[where])]
            self.body.append(f"    for (int e = 0; e < {where.size}; e++) {{\n        #pragma HLS UNROLL\n"
                             f"        {dst}[{dn}[e]] = {x}[{sn}[e]];\n    }}\n")

    def maxpool(self, op: O.MaxPool, src: str, tin: TensorType, dst: str) -> None:
        """Max over each window of the inputs aligned to the output's ``f`` (padding ignored)."""
        from hgq_fpga.ir.builder import maxpool_plan
        _, idx, _, shift, _ = maxpool_plan(op, tin)
        p_, k_, c_ = idx.shape
        ii, ss, ptr = [], [], [0]
        for p in range(p_):
            for c in range(c_):
                keep = idx[p, :, c] >= 0
                ii += idx[p, keep, c].tolist()
                ss += shift[p, keep, c].tolist()
                ptr.append(len(ii))
        a, b, q = self._uniq("mi"), self._uniq("ms"), self._uniq("mp")
        self.tables += [_table(a, np.array(ii)), _table(b, np.array(ss)), _table(q, np.array(ptr))]
        self.body.append(
            f"    for (int o = 0; o < {p_ * c_}; o++) {{\n        #pragma HLS UNROLL\n"
            f"        hgq_raw m = {src}[{a}[{q}[o]]] << {b}[{q}[o]];\n"
            f"        for (int p = {q}[o] + 1; p < {q}[o + 1]; p++) {{\n            #pragma HLS UNROLL\n"
            f"            hgq_raw v = {src}[{a}[p]] << {b}[p];\n            m = v > m ? v : m;\n        }}\n"
            f"        {dst}[o] = m;\n    }}\n")

    def linear_probe(self, op: O.Op, src: str, tin: TensorType, dst: str) -> None:
        """Conv / rank>1 Dense: read the exact integer linear map ``out = A·x + b`` off the op.

        The op is linear in the raw codes with no rounding (its output type is the exact
        accumulator), so unit input codes give the columns of ``A`` exactly; the result is emitted
        as the same sparse multiply-add table as Dense (zero entries emit nothing).
        """
        from hgq_fpga.ir.kernels import compile_op
        n_in = int(tin.k.size)
        n_out = int(op.out.k.size)
        if n_in * n_out > 4_000_000:
            raise NotImplementedError(f"{op.kind} {op.name!r} too large for the sparse-table emitter")
        kern = compile_op(op, [tin])
        zero = np.zeros((1, *tin.shape), dtype=np.int64)
        b = np.asarray(kern([zero])).reshape(n_out)
        eye = np.eye(n_in, dtype=np.int64).reshape(n_in, *tin.shape) * tin.live.reshape(1, *tin.shape)
        a = np.asarray(kern([eye])).reshape(n_in, n_out) - b[None, :]
        idx, wts, ptr = [], [], [0]
        for o in range(n_out):
            nz = np.nonzero(a[:, o])[0]
            idx += nz.tolist()
            wts += a[nz, o].tolist()
            ptr.append(len(idx))
        self._sparse(src, dst, n_out, idx, wts, ptr, b)

    def _sparse(self, src, dst, n_out, idx, wts, ptr, bias) -> None:
        ii, ww, pp, bb = (self._uniq(s) for s in ("di", "dw", "dp", "db"))
        self.tables += [_table(ii, np.array(idx)), _table(ww, np.array(wts)),
                        _table(pp, np.array(ptr)), _table(bb, np.asarray(bias))]
        self.body.append(
            f"    for (int o = 0; o < {n_out}; o++) {{\n        #pragma HLS UNROLL\n"
            f"        hgq_raw acc = {bb}[o];\n"
            f"        for (int p = {pp}[o]; p < {pp}[o + 1]; p++) {{\n"
            f"            #pragma HLS UNROLL\n"
            f"            acc += {src}[{ii}[p]] * (hgq_raw){ww}[p];\n        }}\n"
            f"        {dst}[o] = acc;\n    }}\n")

    def emit(self) -> str:
        fw = self.fw
        if len(fw.outputs) != 1 or len(fw.inputs) != 1:
            raise NotImplementedError("only single-input single-output models are supported yet")
        for op in fw.ops:
            self.op(op)
        xin, xout = fw.inputs[0].name, fw.outputs[0]
        ni, no = self.size(xin), self.size(xout)
        head = (f'#include "{self.top}.h"\n' + HELPERS + "".join(self.tables) +
                f"\nvoid {self.top}(const hgq_raw x_in[{ni}], hgq_raw y_out[{no}]) {{\n"
                f"    #pragma HLS PIPELINE II=1\n"
                f"    #pragma HLS INTERFACE ap_vld port=x_in\n"
                f"    #pragma HLS INTERFACE ap_vld port=y_out\n"
                f"    #pragma HLS ARRAY_PARTITION variable=x_in complete\n"
                f"    #pragma HLS ARRAY_PARTITION variable=y_out complete\n"
                f"    hgq_raw {self._id(xin)}[{ni}];\n"
                f"    for (int e = 0; e < {ni}; e++) {self._id(xin)}[e] = x_in[e];\n")
        tail = f"    for (int e = 0; e < {no}; e++) y_out[e] = {self._id(xout)}[e];\n}}\n"
        batch = (f'\nextern "C" void {self.top}_batch(const long long *x, long long *y, long long n) {{\n'
                 f"    for (long long s = 0; s < n; s++) {self.top}(x + s * {ni}, y + s * {no});\n}}\n")
        return head + "".join(self.body) + tail + batch

    def header(self) -> str:
        ni, no = self.size(self.fw.inputs[0].name), self.size(self.fw.outputs[0])
        g = self.top.upper() + "_H_"
        return (f"#ifndef {g}\n#define {g}\ntypedef long long hgq_raw;\n"
                f"void {self.top}(const hgq_raw x_in[{ni}], hgq_raw y_out[{no}]);\n"
                f'extern "C" void {self.top}_batch(const long long *x, long long *y, long long n);\n'
                f"#endif\n")


def emit(fw, top: str) -> tuple[str, str]:
    """Return ``(cpp, header)`` for firmware ``fw`` with top function ``top``."""
    e = Emitter(fw, top)
    cpp = e.emit()
    return cpp, e.header()
