"""`python -m labreport` runs the command line."""

import sys

from labreport.cli import main

sys.exit(main())
