"""`labreport sweep`: a grid of ordinary labreport runs as tasks on Ray, and one report comparing them.

The stages, one module each: `grid` (the varied settings, every run and its id), `engine` (Ray: a
local instance or a cluster, one task per run), `task` (one run on a worker), `driver` (the data
prepared once per data setting, the runs still to do, their folders), `pipeline` (a whole sweep),
`summary` (the runs' records → `sweep.json`, `sweep.csv`), `facts` and `sentences` (what the
numbers say), `plots`, `report` (the pages, in each format through the report's exporters), `command` (the sweep as one typed call,
`sweep(SweepRequest(...))`, which the command line and the notebook both make).

It may import `labreport.experiment`, `labreport.report` and `labreport.core`; never the site beside
it or the commands above it (checked by `lint-imports`). It is the only wing that imports Ray, and
only when a sweep runs, so `import labreport` never loads it.

In a notebook, the package itself is the function: `labreport.sweep(vary={"max_length": [100, 300]},
seeds=2, quick=True)` (see `labreport.sweep.api.sweep`).
"""

import sys
import types


class _CallableModule(types.ModuleType):
    """`labreport.sweep` is both this package and the notebook's function: once the package is
    imported, Python sets `labreport.sweep` to it, so the package answers the call itself."""

    def __call__(self, *args, **kwargs):
        from labreport.sweep.api import sweep

        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
