"""The course site wing: students' runs → checks → an index page and each run's report, published together.

It may import `labreport.report` and `labreport.core`; never the experiment, TensorFlow, Keras or
Ray, nor the sweep beside it or the commands above it (checked by `lint-imports`).
"""
