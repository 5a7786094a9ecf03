"""Database drivers are optional extras of the package: a source whose driver is missing says
which extra installs it instead of failing with a bare ImportError."""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

from airflow_provider_dativo.errors import EngineError


def driver(module: str, extra: str) -> ModuleType:
    """``module`` imported, or an error naming the extra of this package that installs it."""
    try:
        return import_module(module)
    except ImportError as exc:
        raise EngineError(f"the {extra} source needs {module.split('.')[0]}, which is not "
                          f"installed ({exc}); install it with: "
                          f"pip install 'airflow-provider-dativo[{extra}]'") from None
