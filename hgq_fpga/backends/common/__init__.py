"""Support shared by the backends: board descriptions, the C++ toolchain and build cache, and
folder writes that never leave anything half-written."""
