"""labreport: run the IMDB BiGRU/BiLSTM lab and write its report in Korean and English.

The pipeline, one module per stage:
config → data → prepare → models → train (→ record) → params → figures → pages → pdf;
the notebook API (`labreport.build`, `labreport.render`, `labreport.load`) is in `notebook`.
"""

__version__ = "0.1.0"


class LabreportError(Exception):
    """An error the user can fix; the CLI prints its message as one line, without a traceback."""


_API = ("build", "render", "load")


def __getattr__(name: str):
    """`labreport.build`, `labreport.render`, `labreport.load` (see `labreport.notebook`), imported on first use
    so that `import labreport` and the command line stay quick."""
    if name in _API:
        from labreport import notebook

        return getattr(notebook, name)
    if name == "sweep":  # the subpackage, which is also the notebook's function (labreport.sweep.api)
        import importlib

        return importlib.import_module("labreport.sweep")
    raise AttributeError(f"module 'labreport' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API, "sweep"])
