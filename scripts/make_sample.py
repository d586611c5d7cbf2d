"""Makes labreport's shipped IMDB sample (`labreport/sample/imdb_sample.jsonl.gz`) from the archive.

A seeded, class-balanced draw of real reviews from the labeled train and test splits of the Large
Movie Review Dataset. The output is byte-for-byte reproducible: same archive, same seed, same file.

    python scripts/make_sample.py ../shared/data/aclImdb_v1_labeled.tar.gz
"""

import argparse
import gzip
import io
import json
import random
import re
import tarfile
from pathlib import Path

MEMBER = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")
OUTPUT = Path(__file__).resolve().parent.parent / "labreport" / "experiment" / "sample" / "imdb_sample.jsonl.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("archive", help="aclImdb_v1.tar.gz (or the labeled-only copy)")
    parser.add_argument("--train-per-class", type=int, default=1000, help="reviews per class from train")
    parser.add_argument("--test-per-class", type=int, default=500, help="reviews per class from test")
    parser.add_argument("--seed", type=int, default=2011, help="seed of the draw")
    parser.add_argument("--out", type=Path, default=OUTPUT)
    args = parser.parse_args()

    found: dict[tuple[str, str], list[tuple[int, int, str]]] = {}
    with tarfile.open(args.archive) as archive:
        for member in archive:
            match = MEMBER.search(member.name)
            if match and member.isfile():
                text = archive.extractfile(member).read().decode("utf-8")
                found.setdefault((match[1], match[2]), []).append((int(match[3]), int(match[4]), text))

    rng = random.Random(args.seed)
    lines = []
    for split, per_class in (("train", args.train_per_class), ("test", args.test_per_class)):
        for polarity in ("pos", "neg"):
            pool = sorted(found[(split, polarity)])
            for review_id, rating, text in sorted(rng.sample(pool, per_class)):
                item = {"split": split, "polarity": polarity, "id": review_id, "rating": rating, "text": text}
                lines.append(json.dumps(item, ensure_ascii=False, sort_keys=True))

    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as handle:
        handle.write(("\n".join(lines) + "\n").encode("utf-8"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(buffer.getvalue())
    print(f"wrote {len(lines)} reviews to {args.out} ({len(buffer.getvalue()) / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
