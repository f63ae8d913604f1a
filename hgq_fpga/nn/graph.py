"""The layer graph of a Keras model, as the freezer and the verifier walk it."""

from __future__ import annotations

import keras


def functional_graph(model: keras.Model) -> keras.Model:
    """The functional graph of ``model``: the model itself, or the one a built Sequential wraps.

    Raises a ValueError naming the model when it has no layer graph (a subclassed model), since
    neither freezing nor verification can then find its layers and tensors.
    """
    inner = getattr(model, "_functional", None)
    graph = inner if inner is not None else model
    if not hasattr(graph, "_nodes_by_depth"):
        raise ValueError(f"model {model.name!r} ({type(model).__name__}) has no layer graph; build it "
                         "as a Sequential model with an Input or as a functional model")
    return graph
