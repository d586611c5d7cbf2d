"""The core every wing stands on: the configuration, the record, file writing, shared statistics.

It imports no wing, and never TensorFlow, Keras or Ray (the report reads it without loading either).
The experiment (`labreport.experiment`), the report (`labreport.report`), the course site
(`labreport.site`) and the sweep (`labreport.sweep`) import it; the typed commands
(`labreport.commands`), the command line (`labreport.cli`) and the Python API (`labreport.api`) sit
above them all. The rule is checked by `lint-imports` (pyproject.toml, [tool.importlinter]).
"""

__version__ = "0.1.0"


class LabreportError(Exception):
    """An error the user can fix; the CLI prints its message as one line, without a traceback."""
