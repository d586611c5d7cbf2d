"""The report wing: record → facts and sentences → document → tables and figures → HTML → PDF, written by one writer.

It reads only the record, so a change of wording or layout never retrains. It may import
`labreport.core`; never the experiment, TensorFlow, Keras or Ray, nor the site, the sweep or the
commands above it (checked by `lint-imports`). The site and the sweep render through it.
"""
