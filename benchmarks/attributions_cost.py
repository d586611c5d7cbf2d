"""What the word attributions cost and how exact they are, from a finished run's record.

`labreport train` times the attributions of each model (samples, disagreements, the learned-words
sample and the randomisation check) and stores the seconds in the record; this prints them with
the completeness errors, the randomisation correlations and the machine.

    labreport train --data ../shared/data/aclImdb_v1_labeled.tar.gz --epochs 1 --out /tmp/full
    python benchmarks/attributions_cost.py /tmp/full/results.json

The epochs do not change the cost: it depends on the model's sizes, the review length and the
number of reviews explained. Target (issue: word attributions): at most 60 s per model on the full
data on a 2-core machine.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> None:
    record = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    env = record["environment"]
    print(f"machine: {env['platform']}, {env['cpu']}, {env['cpu_count']} cores; TensorFlow {env['tensorflow']}")
    splits = record["dataset"]["splits"]
    print(f"data: {record['dataset']['source']}, {splits['train']['total'] + splits['validation']['total']:,} / "
          f"{splits['test']['total']:,} reviews, max_length {record['config']['data']['max_length']}")
    for name, entry in record["models"].items():
        a = entry["attributions"]
        errors = [r["completeness_error"] for r in a["reviews"]]
        steps = sorted({r["steps"] for r in a["reviews"]})
        print(f"{entry['display_name']}: {a['seconds']:.1f} s for {len(a['reviews'])} reviews in full "
              f"(steps {steps}) + {a['learned']['reviews']} sampled; completeness error max {max(errors):.2e}, "
              f"mean {sum(errors) / len(errors):.2e}; randomisation rank correlation {a['randomization']['spearman']}; "
              f"evidence in the last/first {a['learned']['position']['edge_tokens']} words "
              f"{a['learned']['position']['last']:.0%} / {a['learned']['position']['first']:.0%}")


if __name__ == "__main__":
    main()
