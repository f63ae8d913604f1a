"""The Keras backends hgq_fpga runs on, and the few operations that differ between them.

hgq_fpga trains, calibrates and freezes on **TensorFlow** and **JAX** (``KERAS_BACKEND``). Every
other backend is refused when :mod:`hgq_fpga.nn` is imported (:func:`require_supported`), with one
line that names ``KERAS_BACKEND``: calibrated mode is exact float64 arithmetic that has been proved
on these two only.

Under JAX, 64-bit types are off by default (``jax_enable_x64``): a float64 array silently becomes
float32, which would make calibrated mode wrong without any error. Importing :mod:`hgq_fpga.nn`
therefore turns ``jax_enable_x64`` on for the process (training is unaffected: its tensors are
float32 by explicit dtype), and calibrated mode refuses to run if it has been turned off again
(:func:`require_float64`).

Everything else that depends on the backend lives here, behind one function each:
:func:`read` (a variable as a plain tensor), :func:`readable` and :func:`concrete` (whether, and
what, a variable's value is here, also while a function is being traced), :func:`compiled`,
:func:`call_keeping_state`, :func:`outside_trace`, and :func:`floor_keep_dtype` and
:func:`round_keep_dtype` (Keras's JAX backend computes float64 ``floor`` and ``round`` in float32).
"""

from __future__ import annotations

from typing import Callable

import keras
import numpy as np
from keras import ops

#: the Keras backends hgq_fpga supports
SUPPORTED = ("tensorflow", "jax")


def require_supported() -> None:
    """Refuse an unsupported Keras backend; under JAX, turn on 64-bit types (see the module doc)."""
    name = keras.backend.backend()
    if name not in SUPPORTED:
        raise ImportError(f"hgq_fpga.nn runs on KERAS_BACKEND=tensorflow or KERAS_BACKEND=jax; Keras "
                          f"is running on {name!r} (set KERAS_BACKEND before Python starts)")
    if name == "jax":
        import jax
        jax.config.update("jax_enable_x64", True)


def require_float64(owner: str) -> None:
    """Raise unless float64 tensors really are float64 (JAX with ``jax_enable_x64`` turned off again).

    ``owner`` names what needs exact float64 arithmetic (a layer, ``calibrate``), for the message.
    """
    if keras.backend.backend() == "jax":
        import jax
        if not jax.config.jax_enable_x64:
            raise RuntimeError(f"{owner}: calibrated mode computes exactly in float64, but JAX has "
                               "64-bit types turned off (jax_enable_x64=False); importing hgq_fpga.nn "
                               "turns them on, so do not turn them off again")


def read(x):
    """``x`` as a tensor: a variable becomes the tensor of its current value.

    ``ops.custom_gradient`` would otherwise see a TensorFlow variable itself and demand a gradient
    for it too.
    """
    if isinstance(x, keras.Variable):
        x = x.value
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        if isinstance(x, tf.Variable):
            return tf.identity(x)
    return ops.convert_to_tensor(x)


def _jax_value(variable: keras.Variable):
    """Under JAX, the value of ``variable`` that the present scope sees, or ``None`` where it sees none.

    Inside a Keras stateless scope (every compiled step of ``fit``, ``evaluate``, ``predict``) that
    is the value the scope maps the variable to; a variable the scope does not map has no value
    there (Keras's JAX trainer takes the values off the variables while it holds them, and an
    unmapped value read inside ``jit`` would be frozen into the compiled function).
    """
    from keras.src.backend.common.stateless_scope import get_stateless_scope, in_stateless_scope
    if in_stateless_scope():
        return get_stateless_scope().get_current_value(variable)
    return variable._value


def readable(variable: keras.Variable) -> bool:
    """Whether ``variable.value`` gives the variable's current value here (always, on TensorFlow)."""
    return keras.backend.backend() != "jax" or _jax_value(variable) is not None


def concrete(variable: keras.Variable) -> np.ndarray | None:
    """The current value of ``variable`` as a NumPy array, or ``None`` where it cannot be known now.

    TensorFlow reads it eagerly even while a ``tf.function`` is traced. Under JAX a function being
    traced (``jit``, Keras's compiled ``fit``/``predict``) sees the value only as a tracer: then
    ``None``, as where the variable has no value at all (see :func:`_jax_value`).
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        with tf.init_scope():
            return variable.numpy()
    import jax
    value = _jax_value(variable)
    if value is None or isinstance(value, jax.core.Tracer):
        return None
    return np.asarray(value)


def same_trace(tensor) -> bool:
    """Whether ``tensor`` was made in the TensorFlow graph being traced now, so that a later
    operation of the same trace may use it instead of computing it again. False eagerly and under
    JAX (where a tensor kept from one trace must never reach another)."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf
    if tf.executing_eagerly():
        return False
    return getattr(tensor, "graph", None) is tf.compat.v1.get_default_graph()


def compiled(fn: Callable) -> Callable:
    """``fn`` (a function of tensors) compiled as a whole where eager calls would run op by op.

    JAX compiles every operation of an eager call separately, once per shape: a function of a few
    dozen operations then costs seconds on its first calls (calibration, freezing). Under JAX this
    is ``jax.jit(fn)``; TensorFlow runs eager kernels directly, so there it is ``fn`` itself (and
    a ``tf.function`` or XLA caller traces it as usual).
    """
    if keras.backend.backend() == "jax":
        import jax
        return jax.jit(fn)
    return fn


def call_keeping_state(model: keras.Model, batches) -> None:
    """Call ``model`` on each batch in inference mode, keeping what its layers assign to their
    variables (calibration records the activation ranges this way).

    Under JAX a built model runs as one compiled function (``stateless_call`` under ``jax.jit``)
    and the variables are assigned once at the end; elsewhere the calls are eager.
    """
    if keras.backend.backend() != "jax" or not model.built:
        for xb in batches:
            model(xb, training=False)
        return
    import jax

    def step(trainable, non_trainable, xb):
        return model.stateless_call(trainable, non_trainable, xb, training=False)[1]

    step = jax.jit(step)
    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    for xb in batches:
        non_trainable = step(trainable, non_trainable, xb)
    for variable, value in zip(model.non_trainable_variables, non_trainable):
        variable.assign(value)


def refuse_training(model: keras.Model, error: Exception) -> None:
    """Make ``model.fit`` raise ``error`` at its first step, leaving the model as it is.

    A calibrated layer refuses training when ``fit`` traces it; by then Keras's JAX trainer has
    taken every variable's value off the model, and a failed first step does not give them back.
    So calibration installs this as the model's training function (``compile`` replaces it): it
    receives the state, hands it back to Keras's trainer (which puts it on the variables as ``fit``
    ends) and raises.
    """
    def refuse(*args, **kwargs):
        if keras.backend.backend() == "jax" and args and len(args[0]) == len(_JAX_STATE):
            model._jax_state = dict(zip(_JAX_STATE, args[0]))
            model._jax_state_synced = False
        raise error

    model.train_function = refuse


#: the parts of the state that Keras's JAX ``fit`` passes to its training function, in order
_JAX_STATE = ("trainable_variables", "non_trainable_variables", "optimizer_variables", "metrics_variables")


def forget_trainer_state(model: keras.Model) -> None:
    """Drop the state of the last run that Keras's JAX trainer keeps (``fit`` puts it back on the
    variables when a run fails), so that an older state never overwrites the present one."""
    if keras.backend.backend() == "jax" and hasattr(model, "_jax_state"):
        model._jax_state = None


def floor_keep_dtype(x):
    """``floor(x)`` in ``x``'s own float dtype.

    Keras's JAX backend computes ``ops.floor`` (and ``round``, ``tanh``, ``exp``, ...) of a float64
    tensor in float32: it aligns its type promotion with JAX's 32-bit default, whether or not
    ``jax_enable_x64`` is on. A float32 floor rounds every value above ``2**24`` and every value
    within ``2**-24`` (relative) of an integer, so calibrated mode uses this instead.
    """
    if keras.backend.backend() == "jax":
        import jax.numpy as jnp
        return jnp.floor(x)
    return ops.floor(x)


def round_keep_dtype(x):
    """``round(x)`` (half to even, as ``ops.round``) in ``x``'s own float dtype; see
    :func:`floor_keep_dtype`."""
    if keras.backend.backend() == "jax":
        import jax.numpy as jnp
        return jnp.round(x)
    return ops.round(x)


def outside_trace(fn: Callable):
    """Run ``fn`` eagerly even while a function is being traced (``tf.function``, XLA, JAX ``jit``).

    TensorFlow steps out to its eager context; JAX evaluates the operations on constants at once
    (``jax.ensure_compile_time_eval``), and ``fn`` must read variables through :func:`concrete`.
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        with tf.init_scope():
            return fn()
    import jax
    with jax.ensure_compile_time_eval():
        return fn()
