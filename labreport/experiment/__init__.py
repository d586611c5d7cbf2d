"""The experiment wing: configuration → data → prepared batches → models → training → inference and attributions → the record (results.json)."""
