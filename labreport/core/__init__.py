"""The core every wing stands on: the configuration, the record, file writing, shared statistics.

It imports no wing. The experiment (`labreport.experiment`), the report (`labreport.report`) and the
course site (`labreport.site`) import it; the command line (`labreport.cli`) and the Python API
(`labreport.api`) sit above them all.
"""

__version__ = "0.1.0"


class LabreportError(Exception):
    """An error the user can fix; the CLI prints its message as one line, without a traceback."""
