"""labreport: run the IMDB BiGRU/BiLSTM lab and write its report in Korean and English.

One subpackage per wing, beside a small core: the experiment (`labreport.experiment`: data →
prepare → models → train → the record), the report (`labreport.report`: record → paragraphs →
outline → HTML → PDF) and the course site (`labreport.site`: submissions → checks → site), on
`labreport.core` (settings, configuration, record, files). The command line is `labreport.cli`;
the notebook API (`labreport.build`, `labreport.render`, `labreport.load`) is `labreport.api`.
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
    if name == "sweep":  # the subpackage, which is also the notebook's function (labreport.sweep.api)
        import importlib

        return importlib.import_module("labreport.sweep")
    raise AttributeError(f"module 'labreport' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API, "sweep"])
