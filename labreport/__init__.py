"""labreport: run the IMDB BiGRU/BiLSTM lab and write its report in Korean and English.

The pipeline, one module per stage:
config → data → prepare → models → train (→ record) → params → figures → pages → pdf;
the notebook API (`labreport.build`, `labreport.render`, `labreport.load`) is in `notebook`.
"""

from labreport.core import LabreportError, __version__

__all__ = ["LabreportError", "__version__", "build", "render", "load"]


_API = ("build", "render", "load")


def __getattr__(name: str):
    """`labreport.build`, `labreport.render`, `labreport.load` (see `labreport.api`), imported on first use
    so that `import labreport` and the command line stay quick."""
    if name in _API:
        from labreport import api
        return getattr(api, name)
    raise AttributeError(f"module 'labreport' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
