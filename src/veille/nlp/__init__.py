"""Language, sentiment, complaint / needs-care and abuse for posts (see ``analyzer``).

Importing this package is cheap; numpy, scipy and the models load on first use of
``get_analyzer()``.
"""

from __future__ import annotations

__all__ = ["SUPPORTED_LANGUAGES", "Analysis", "Analyzer", "get_analyzer"]


def __getattr__(name: str):
    if name in __all__:
        from . import analyzer

        return getattr(analyzer, name)
    raise AttributeError(f"module 'veille.nlp' has no attribute {name!r}")
