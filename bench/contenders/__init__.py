"""The peer tools the studies compare against, each in an environment of its own: HGQ2
(:mod:`.hgq2_env`, :mod:`.hgq2_worker`, :mod:`.hgq2_front`), alkaid (:mod:`.alkaid_rtl`,
``alkaid_emit.py``) and QKeras on legacy Keras (``qkeras_legacy.py``)."""
