"""The bit-exact int64 emulator of the firmware IR: one vectorised kernel per op kind.

* :mod:`.casting` - fixed-point casts (every rounding and overflow mode) on raw codes;
* :mod:`.linear` - Dense and Conv as integer (or exact float64) matrix products;
* :mod:`.kernels` - ``compile_op``: an op and its input types to a function on raw codes.
"""
