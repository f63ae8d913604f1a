"""The peer tools the studies compare against, each in an environment of its own: HGQ2
(:mod:`.hgq2_env`, :mod:`.hgq2_worker`, :mod:`.hgq2_front`), da4ml (:mod:`.da4ml_rtl`,
``da4ml_emit.py``) and QKeras on legacy Keras (``qkeras_legacy.py``)."""
