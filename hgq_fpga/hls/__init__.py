"""HLS C++ backend: project writer, C simulation and synthesis-report reading (Vitis / Vivado HLS)."""
