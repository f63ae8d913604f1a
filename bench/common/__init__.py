"""Helpers that several studies share: the data (:mod:`.data`), the models and their training
(:mod:`.models`, :mod:`.training`, :mod:`.uniform`, :mod:`.saturating`, :mod:`.presets`), the
statistics (:mod:`.pareto`), the store (:mod:`.store`), number formatting (:mod:`.fmt`), figures
(:mod:`.plots`), the machine a run ran on (:mod:`.machine`), and the side processes of the
contenders (:mod:`.side_venv`, :mod:`.line_worker`)."""
