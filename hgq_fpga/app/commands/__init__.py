"""The ``hgq-fpga`` commands, one module each; :mod:`hgq_fpga.app.cli` groups them.

Keras and TensorFlow are imported only inside the commands that need them, so ``--help``,
``boards``, ``emulate`` and ``report`` start quickly.
"""
