"""The checks: proof on data that every implementation of a firmware gives the same bits.

* :mod:`.verify` - :func:`hgq_fpga.verify`: Keras = emulator = every backend's project, compared
  with ``==``, and where they part ways;
* :mod:`.testing` - ``assert_bit_exact`` and the pytest fixture for a user's own CI;
* :mod:`.junit` - a verification as JUnit XML;
* :mod:`.design_folder` - a design folder opened for checking (its manifest, firmware, Keras model
  and projects).

Above the Keras side and the backends, below the app.
"""
