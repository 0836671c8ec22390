"""SciPy and statsmodels, loaded on first use instead of when ``metrics`` is imported.

``import metrics`` lies on the path of every command and of the dashboard's first page. Importing
statsmodels costs about 1 s on this machine and scipy.stats another 0.3 s, while a page whose
statistics come from the result cache needs neither. A module that uses them writes::

    if TYPE_CHECKING:
        from scipy import stats
    else:
        stats = lazy_module("scipy.stats")

so that type checkers see the real module, and the import happens at the first attribute access
(``stats.norm``) or the first call (:func:`lazy_function`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any


class _LazyModule(ModuleType):
    """A stand-in that imports the named module at its first attribute access."""

    def __getattr__(self, attr: str) -> Any:
        module = importlib.import_module(self.__name__)
        self.__dict__.update(module.__dict__)  # later accesses skip __getattr__
        return getattr(module, attr)


def lazy_module(name: str) -> ModuleType:
    """The module ``name``, imported when one of its attributes is first used."""
    return _LazyModule(name)


def lazy_function(module: str, name: str) -> Callable[..., Any]:
    """The function ``module.name``, imported at its first call."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call
