"""SciPy and statsmodels, loaded on first use instead of when ``metrics`` is imported.

``import metrics`` lies on the path of every command and of the dashboard's first page. Importing
statsmodels costs about 1 s on this machine and scipy.stats another 0.3 s, while a page whose
statistics come from the result cache needs neither. A module that uses them writes::

    if TYPE_CHECKING:
        from scipy import stats
    else:
        stats = lazy_module("scipy.stats")

so that type checkers see the real module, and the import happens at the first attribute access
(``stats.norm``) or the first call (:func:`lazy_function`). A long-running process (the
dashboard's server) calls :func:`load_deferred` once it is idle, so that its first computation
does not pay for the imports either.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

#: The modules handed out lazily so far, for :func:`load_deferred`.
DEFERRED: set[str] = set()


class _LazyModule(ModuleType):
    """A stand-in that imports the named module at its first attribute access."""

    def __getattr__(self, attr: str) -> Any:
        module = importlib.import_module(self.__name__)
        self.__dict__.update(module.__dict__)  # later accesses skip __getattr__
        return getattr(module, attr)


def lazy_module(name: str) -> ModuleType:
    """The module ``name``, imported when one of its attributes is first used."""
    DEFERRED.add(name)
    return _LazyModule(name)


def lazy_function(module: str, name: str) -> Callable[..., Any]:
    """The function ``module.name``, imported at its first call."""
    DEFERRED.add(module)

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


def load_deferred() -> None:
    """Import every module handed out lazily (in a background thread of a server)."""
    for name in sorted(DEFERRED):
        importlib.import_module(name)
