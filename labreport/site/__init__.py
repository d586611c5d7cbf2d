"""The course site wing: students' runs → checks → an index page and each run's report, published together."""
