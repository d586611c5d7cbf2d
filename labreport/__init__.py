"""labreport: run the IMDB BiGRU/BiLSTM lab and write its report in Korean and English.

The pipeline, one module per stage:
config → data → models → train (→ record) → params → figures → render → pdf.
"""

__version__ = "0.1.0"


class LabreportError(Exception):
    """An error the user can fix; the CLI prints its message as one line, without a traceback."""
