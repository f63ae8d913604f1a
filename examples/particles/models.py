"""The four reference particle architectures, built from hgq_fpga layers, for inputs ``(N, F)``
(``N`` particles of ``F`` features, zero-padded) and ``classes`` outputs (logits).

* :func:`deep_sets` - a dense network on every particle, a sum over the particles, a dense head
  (the CMS Phase-2 jet tagger's shape, arXiv 2509.24371);
* :func:`interaction_network` - JEDI-linear style (arXiv 2508.15468): every particle's embedding
  is updated with a learned mixing across the particles and with the sum over all particles
  (a broadcast add), then summed;
* :func:`mlp_mixer` - token mixing (a dense layer across the particle axis, through a permute) and
  channel mixing (a dense layer per particle), with residuals (arXiv 2503.03103);
* :func:`transformer` - one attention head (query, key, value, softmax, weights times values), a
  residual, average pooling over the particles and a dense head (arXiv 2510.24784).

Each function returns an uncalibrated Keras model; :mod:`.train` trains it with the HGQ recipe.
"""

from __future__ import annotations

import keras

from hgq_fpga.nn.layers import (HAdd, HDense, HEinsumDense, HGlobalAveragePooling1D, HMultiHeadAttention,
                                HPermute, HQuantize, HSum)


def _inputs(n: int, f: int):
    inputs = keras.Input((n, f), name="particles")
    return inputs, HQuantize(name="inputs")(inputs)    # saturates beyond the calibrated range


def deep_sets(n: int = 16, f: int = 5, classes: int = 5, hidden: int = 32) -> keras.Model:
    """φ per particle (two dense layers), Σ over particles, ρ (a dense layer and the logits)."""
    inputs, x = _inputs(n, f)
    x = HDense(hidden, activation="relu", name="phi1")(x)
    x = HDense(hidden, activation="relu", name="phi2")(x)
    x = HSum(axis=1, name="sum")(x)
    x = HDense(hidden, activation="relu", name="rho")(x)
    return keras.Model(inputs, HDense(classes, name="logits")(x), name="deep_sets")


def interaction_network(n: int = 16, f: int = 5, classes: int = 5, hidden: int = 16) -> keras.Model:
    """An embedding per particle; an update from a learned mix of all particles (``"bnf,nm->bmf"``) and
    from their sum (broadcast over the particles); a sum and a dense head."""
    inputs, x = _inputs(n, f)
    h = HDense(hidden, activation="relu", name="embed")(x)
    mixed = HEinsumDense("bnf,nm->bmf", (n, hidden), name="mix")(h)
    total = HSum(axis=1, keepdims=True, name="total")(h)
    update = HAdd(name="update")([HDense(hidden, name="self")(h), mixed, HDense(hidden, name="global")(total)])
    h = HDense(hidden, activation="relu", name="node")(update)
    x = HSum(axis=1, name="sum")(h)
    return keras.Model(inputs, HDense(classes, name="logits")(x), name="interaction_network")


def mlp_mixer(n: int = 16, f: int = 5, classes: int = 5, hidden: int = 16, blocks: int = 1) -> keras.Model:
    """An embedding per particle, then ``blocks`` of token mixing (across particles) and channel mixing,
    each with a residual; average pooling over the particles and the logits."""
    inputs, x = _inputs(n, f)
    x = HDense(hidden, name="embed")(x)
    for b in range(blocks):
        t = HPermute((2, 1), name=f"tokens{b}")(x)                      # (hidden, n)
        t = HDense(n, activation="relu", name=f"token_mix{b}")(t)
        x = HAdd(name=f"token_res{b}")([x, HPermute((2, 1), name=f"back{b}")(t)])
        c = HDense(hidden, activation="relu", name=f"channel_mix{b}")(x)
        x = HAdd(name=f"channel_res{b}")([x, c])
    x = HGlobalAveragePooling1D(name="pool")(x)
    return keras.Model(inputs, HDense(classes, name="logits")(x), name="mlp_mixer")


def transformer(n: int = 16, f: int = 5, classes: int = 5, dim: int = 8) -> keras.Model:
    """An embedding, one attention head with a residual, average pooling and the logits."""
    inputs, x = _inputs(n, f)
    x = HDense(dim, name="embed")(x)
    attended = HMultiHeadAttention(num_heads=1, key_dim=dim, name="attention")(x, x)
    x = HAdd(name="residual")([x, attended])
    x = HDense(dim, activation="relu", name="ffn")(x)
    x = HGlobalAveragePooling1D(name="pool")(x)
    return keras.Model(inputs, HDense(classes, name="logits")(x), name="transformer")


#: the reference architectures by name
ARCHITECTURES = {"deep_sets": deep_sets, "interaction_network": interaction_network,
                 "mlp_mixer": mlp_mixer, "transformer": transformer}
