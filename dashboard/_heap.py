"""Keep Streamlit's garbage collection after every rerun cheap.

Streamlit runs a full ``gc.collect()`` after every script run (``runner.postScriptGC``). Its cost
grows with the number of objects the collector tracks, and importing :mod:`metrics` (pandas,
scipy, statsmodels, scikit-learn) and plotly leaves about 200,000 of them: 0.1-0.4 s per rerun
on the bench machine, more than the rest of a cached page. :func:`freeze_imports` moves the
objects alive after a run that imported new modules into the collector's permanent generation
(:func:`gc.freeze`, Python 3.7; the pattern the CPython docs give for long-lived processes), so
later collections only walk what the reruns themselves create.
"""

from __future__ import annotations

import gc
import sys
import threading

_lock = threading.Lock()
_frozen_at = 0  # len(sys.modules) at the last freeze


def freeze_imports() -> bool:
    """Collect, then freeze everything alive, when modules were imported since the last call.

    A no-op (one ``len``) once every module the pages use is loaded. Returns whether it froze.
    Objects of another session's run that happen to be alive then stay in memory for good (the
    freeze happens a handful of times per server process, so that is bounded).
    """
    global _frozen_at
    if len(sys.modules) == _frozen_at:
        return False
    with _lock:
        if len(sys.modules) == _frozen_at:
            return False
        gc.collect()
        gc.freeze()
        _frozen_at = len(sys.modules)
    return True
