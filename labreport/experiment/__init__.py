"""The experiment wing: configuration → data → prepared batches → models → training → inference and attributions → the record (results.json).

The only wing that loads TensorFlow and Keras. It may import `labreport.core`; never the report, the
site, the sweep or the commands above it, and never Ray (checked by `lint-imports`).
"""
