"""``--trust-file``: the one option of every command that opens a user's model file.

By default a model file is checked before it is loaded (:func:`hgq_fpga.nn.model_files.
check_model_file`) and refused if it holds code; ``--trust-file`` skips that check for a file whose
source the user trusts (docs/model_files.md). Importing this module imports no Keras.
"""

from __future__ import annotations

import click

TRUST_FILE_HELP = ("Skip the check that refuses a model file holding code (a Lambda layer, a function "
                   "stored as bytecode, a custom object) before it is loaded. Only for a file whose source "
                   "you trust: a QKeras .h5 or SavedModel then runs such code while it loads (Keras 3 "
                   ".keras files stay in Keras's safe_mode). See docs/model_files.md.")

#: the click option; the command gets ``trust: bool``
trust_file_option = click.option("--trust-file", "trust", is_flag=True, help=TRUST_FILE_HELP)

#: the spelling of the opt-in in a refusal on the command line (see hgq_fpga.nn.model_files.offer)
TRUST_FILE_FLAG = "--trust-file"
