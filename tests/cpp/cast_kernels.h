// Cast kernels for tests/test_fixed_vs_apfixed.py: each instantiation casts a block of doubles to
// one ap_[u]fixed type and writes back the raw bits (bits_to_uint64: the low W bits are the code).
// Raw bits are what a firmware produces, and reading them instead of to_double() cuts the compile
// time per instantiation by about a fifth. The modes are template parameters, so a generated table
// of instantiations covers a grid of types with a single program run.
#ifndef HGQ_FPGA_TEST_CAST_KERNELS_H
#define HGQ_FPGA_TEST_CAST_KERNELS_H

#include <ap_fixed.h>
#include <cstddef>
#include <cstdint>

template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O>
struct Target {
  typedef ap_fixed<W, I, Q, O> type;
};
template <int W, int I, ap_q_mode Q, ap_o_mode O>
struct Target<W, I, false, Q, O> {
  typedef ap_ufixed<W, I, Q, O> type;
};

// double -> ap_[u]fixed<W, I, Q, O> -> raw bits.
template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O>
void from_double(const double* in, std::uint64_t* out, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) {
    typename Target<W, I, S, Q, O>::type v(in[j]);
    out[j] = v.bits_to_uint64();
  }
}

// Source type of the fixed-to-fixed casts; its inputs are exact multiples of 2^-(SRC_W - SRC_I).
#define HGQ_SRC_W 50
#define HGQ_SRC_I 25

// double -> ap_fixed<50, 25> (exact) -> ap_[u]fixed<W, I, Q, O> -> raw bits.
template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O>
void from_fixed(const double* in, std::uint64_t* out, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) {
    ap_fixed<HGQ_SRC_W, HGQ_SRC_I> src(in[j]);
    typename Target<W, I, S, Q, O>::type v = src;
    out[j] = v.bits_to_uint64();
  }
}

#endif
