"""Support shared by the backends: board descriptions, and the C++ toolchain and its build cache."""
