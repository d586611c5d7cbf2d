"""`python -m labreport` runs the command line."""

import sys

from labreport.cli import main

if __name__ == "__main__":  # a spawned render worker imports this module again and must not run the command
    sys.exit(main())
