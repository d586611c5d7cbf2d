"""The report wing: record → facts and sentences → document → tables and figures → HTML → PDF, written by one writer."""
