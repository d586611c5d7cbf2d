"""IMDB reviews in: a `Corpus` of train and test reviews with 0/1 labels, from any of three sources.

- tensorflow-datasets `imdb_reviews` (the lab's source; needs the network the first time),
- the Stanford archive `aclImdb_v1.tar.gz` or its extracted `aclImdb/` folder (`--data`),
- the real IMDB subset shipped in `labreport/experiment/sample/` (`--quick`).

Every entry read is bounded and checked (a folder, a link or an oversized file is named in one
line), and so is the whole: at most `MAX_DATA_BYTES` of reviews, tar headers of at most
`labreport.core.fileio.MAX_TAR_HEADER_BYTES`, review numbers of at most `MAX_ID_DIGITS` digits. Turning the reviews into integer sequences is `labreport.experiment.encoding`'s job.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import stat
import tarfile
import zlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from labreport.core import LabreportError
from labreport.core.fileio import open_tar

ARCHIVE_MEMBER = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")
MAX_ID_DIGITS = 9
"""The most digits in a review's number (IMDB's go to 12,499); more is not a review file's name."""
MAX_DATA_BYTES = 128 * 1024 * 1024
"""The most bytes of reviews read from --data, 128 MiB: twice the real IMDB's 50,000 labeled reviews
(65.5 MB); each byte costs about 15 in memory before training (200 reviews of 1 MiB took 3 GB)."""


SAMPLE_FILE = "imdb_sample.jsonl.gz"


TFDS_HOST = "ai.stanford.edu"  # where tensorflow-datasets downloads imdb_reviews from


@dataclass
class Split:
    """Reviews of one split, in a fixed order, with labels 1 (positive) and 0 (negative)."""

    texts: list[str]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class Corpus:
    train: Split
    test: Split
    source: str
    """"tfds", "archive", "folder" or "sample"."""
    location: str
    """Where the reviews came from (dataset name, path, or package file)."""
    undecodable: int = 0
    """Reviews that were not valid UTF-8 and were read with replacement characters."""


def _decode(raw: bytes) -> tuple[str, bool]:
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace"), True


def _collect(records: Iterable[tuple[str, str, int, bytes]], source: str, location: str) -> Corpus:
    """Builds a Corpus from (split, polarity, id, raw bytes) records, ordered by split, class, id."""
    buckets: dict[str, list[tuple[int, int, str]]] = {"train": [], "test": []}
    undecodable = total = 0
    for split, polarity, review_id, raw in records:
        total += len(raw)
        if total > MAX_DATA_BYTES:
            raise LabreportError(f"{location} holds more than {MAX_DATA_BYTES // (1024 * 1024)} MiB of reviews, the "
                                 f"limit for --data (the real IMDB holds {REAL_IMDB_MB} MB)")
        text, replaced = _decode(raw)
        undecodable += replaced
        buckets[split].append((1 if polarity == "pos" else 0, review_id, text))
    for split, items in buckets.items():
        if not items:
            raise LabreportError(f"{location} has no {split} reviews (expected aclImdb/{split}/pos and neg)")
        for label, name in ((1, "pos"), (0, "neg")):
            if not any(item[0] == label for item in items):
                raise LabreportError(f"{location}: the class folder aclImdb/{split}/{name} is empty")
        items.sort(key=lambda item: (-item[0], item[1]))
    splits = {
        name: Split([t for _, _, t in items], np.array([lab for lab, _, _ in items], dtype=np.int32))
        for name, items in buckets.items()
    }
    return Corpus(splits["train"], splits["test"], source, location, undecodable)


REAL_IMDB_MB = 65.5


def review_number(digits: str, name: str) -> int:
    """The number of the review file `name` (`<number>_<rating>.txt`).

    Raises:
        LabreportError: a number of more than `MAX_ID_DIGITS` digits (Python refuses to read one of
            4,300 digits, and no review collection is that large).
    """
    if len(digits) > MAX_ID_DIGITS:
        raise LabreportError(f"{name[:200]}: a review file's number has at most {MAX_ID_DIGITS} digits, "
                             f"this one has {len(digits):,}")
    return int(digits)


def _archive_records(path: Path) -> Iterator[tuple[str, str, int, bytes]]:
    try:
        with open_tar(path) as archive:
            for member in archive:
                match = ARCHIVE_MEMBER.search(member.name)
                if not match or not member.isfile():
                    continue  # unsup/, .feat files, urls, README: not part of the labeled splits
                if member.size > MAX_REVIEW_BYTES:
                    raise LabreportError(f"{member.name} holds {member.size:,} bytes, more than a review's "
                                         f"limit of {MAX_REVIEW_BYTES:,}")
                handle = archive.extractfile(member)
                assert handle is not None
                yield match[1], match[2], review_number(match[3], member.name), handle.read(MAX_REVIEW_BYTES + 1)
    except (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile, zlib.error) as error:
        raise LabreportError(f"{path} is not a readable IMDB archive ({error})") from error
    except LabreportError as error:  # a member's line, named in the archive
        raise LabreportError(f"{path}: {error}") from None


MAX_REVIEW_BYTES = 1 << 20
"""The largest review file read, 1 MiB (IMDB's longest review is about 14 KB): a bigger file is not a review."""


def _folder_records(root: Path) -> Iterator[tuple[str, str, int, bytes]]:
    """Reads `root/<split>/<pos|neg>/<id>_<rating>.txt`; any entry there that is not a plain file of
    at most MAX_REVIEW_BYTES (a folder, a link, a device, a huge file) stops with its name."""
    for split in ("train", "test"):
        if (root / split).is_symlink():
            raise LabreportError(f"{root / split} is a link: labreport follows no links inside --data")
        for polarity in ("pos", "neg"):
            folder = root / split / polarity
            if folder.is_symlink():
                raise LabreportError(f"{folder} is a link: labreport follows no links inside --data")
            if not folder.is_dir():
                continue
            try:
                entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
            except OSError as error:
                raise LabreportError(f"cannot read the folder {folder}: {error.strerror or error}") from error
            for entry in entries:
                match = re.fullmatch(r"(\d+)_(\d+)\.txt", entry.name)
                if match:
                    yield split, polarity, review_number(match[1], entry.path), _read_review(Path(entry.path))


def _read_review(path: Path) -> bytes:
    """One review file's bytes, opened without following a link and read only up to the limit."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        kind = "a link" if path.is_symlink() else None
        if kind:
            raise LabreportError(f"{path} is a link: labreport follows no links inside --data") from error
        raise LabreportError(f"cannot read the review {path}: {error.strerror or error}") from error
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise LabreportError(f"{path} is {kind}, where a review file is expected")
    with os.fdopen(fd, "rb") as handle:
        if info.st_size > MAX_REVIEW_BYTES:
            raise LabreportError(f"{path} holds {info.st_size:,} bytes, more than a review's limit of "
                                 f"{MAX_REVIEW_BYTES:,}")
        try:
            data = handle.read(MAX_REVIEW_BYTES + 1)
        except OSError as error:
            raise LabreportError(f"cannot read the review {path}: {error.strerror or error}") from error
    if len(data) > MAX_REVIEW_BYTES:
        raise LabreportError(f"{path} holds more than a review's limit of {MAX_REVIEW_BYTES:,} bytes")
    return data


def read_archive(path: str | Path) -> Corpus:
    """Reads the Stanford IMDB archive or its extracted folder.

    Args:
        path: `aclImdb_v1.tar.gz` (any tar compression), the `aclImdb/` folder, or a folder holding it.

    Returns:
        The labeled train and test reviews; `unsup/`, `.feat` files and url lists are ignored.
    """
    path = Path(path)
    if not path.exists():
        raise LabreportError(f"--data path does not exist: {path}")
    if path.is_dir():
        if (path / "aclImdb").is_symlink():
            raise LabreportError(f"{path / 'aclImdb'} is a link: labreport follows no links inside --data")
        root = path / "aclImdb" if (path / "aclImdb").is_dir() else path
        return _collect(_folder_records(root), "folder", str(path))
    if path.stat().st_size == 0:
        raise LabreportError(f"{path} is empty, not an IMDB archive")
    if not _is_tar(path):
        raise LabreportError(f"{path} is not a tar archive (expected aclImdb_v1.tar.gz or the aclImdb/ folder)")
    return _collect(_archive_records(path), "archive", str(path))


def _is_tar(path: Path) -> bool:
    """Whether `path` opens as a tar archive; `tarfile.is_tarfile` would read its first header unbounded."""
    try:
        open_tar(path).close()
        return True
    except (tarfile.TarError, EOFError, OSError, zlib.error):
        return False
    except LabreportError as error:
        raise LabreportError(f"{path}: {error}") from None


def read_sample() -> Corpus:
    """Reads the IMDB subset shipped with labreport (see `labreport/sample/README.md`)."""
    raw = resources.files("labreport.experiment.sample").joinpath(SAMPLE_FILE).read_bytes()
    records = []
    with gzip.open(io.BytesIO(raw), "rt", encoding="utf-8") as lines:
        for line in lines:
            item = json.loads(line)
            records.append((item["split"], item["polarity"], item["id"], item["text"].encode("utf-8")))
    return _collect(records, "sample", f"labreport/sample/{SAMPLE_FILE}")


def _network_reachable(host: str, timeout: float = 3.0) -> bool:
    """Whether an HTTPS request to `host` gets any answer, through the proxy of HTTPS_PROXY/NO_PROXY if set.

    tensorflow-datasets downloads through the same proxy settings, so a machine that reaches the
    web only through a proxy is not taken for an offline one. Any HTTP status counts as reachable.
    """
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(urllib.request.Request(f"https://{host}/", method="HEAD"), timeout=timeout).close()
        return True
    except urllib.error.HTTPError:
        return True  # the server answered
    except (OSError, ValueError):  # URLError, timeouts, a proxy that refuses the tunnel, a malformed proxy URL
        return False


def tfds_data_dir(data_dir: str | None = None) -> Path:
    """Where tensorflow-datasets keeps its data: `--data-dir`, else TFDS_DATA_DIR, else ~/tensorflow_datasets."""
    return Path(data_dir or os.environ.get("TFDS_DATA_DIR") or Path.home() / "tensorflow_datasets").expanduser()


def load_tfds(data_dir: str | None = None) -> Corpus:
    """Loads `imdb_reviews` through tensorflow-datasets, as the lab does.

    The prepared copy in `data_dir` (see `tfds_data_dir`) is used when present; otherwise tfds
    downloads it, which needs the network. Offline, this fails at once with a message naming the
    ways out instead of retrying for minutes; a copy that is there but cannot be read is reported
    as broken, with the folder to delete.
    """
    import tensorflow_datasets as tfds

    folder = tfds_data_dir(data_dir)

    def load(download: bool):
        return tfds.load(
            "imdb_reviews", split=["train", "test"], as_supervised=True, data_dir=str(folder), download=download
        )

    try:
        train_ds, test_ds = load(download=False)
    except Exception as error:  # not prepared yet: tfds raises AssertionError or DatasetNotFoundError
        copy = folder / "imdb_reviews"
        if copy.is_dir() and any(copy.rglob("dataset_info.json")):
            raise LabreportError(
                f"the copy of imdb_reviews in {copy} cannot be read ({type(error).__name__}: "
                f"{str(error).splitlines()[0] if str(error) else ''}); delete that folder to download it again, "
                "or use --data PATH or --quick"
            ) from None
        if not _network_reachable(TFDS_HOST):
            raise LabreportError(
                f"tensorflow-datasets cannot download imdb_reviews to {folder} (no network; HTTPS_PROXY is honoured); "
                "use --data PATH with the aclImdb_v1.tar.gz archive or its folder, or --quick for the shipped sample"
            ) from None
        try:
            train_ds, test_ds = load(download=True)
        except Exception as error:
            raise LabreportError(
                f"tensorflow-datasets could not prepare imdb_reviews in {folder} ({type(error).__name__}: {error}); "
                "use --data PATH or --quick"
            ) from error

    def to_split(dataset) -> tuple[Split, int]:
        texts, labels, replaced = [], [], 0
        for text, label in tfds.as_numpy(dataset):
            decoded, was_replaced = _decode(bytes(text))
            texts.append(decoded)
            labels.append(int(label))
            replaced += was_replaced
        return Split(texts, np.array(labels, dtype=np.int32)), replaced

    train, bad_train = to_split(train_ds)
    test, bad_test = to_split(test_ds)
    return Corpus(train, test, "tfds", "tensorflow-datasets imdb_reviews", bad_train + bad_test)


def load_corpus(data: str | None, quick: bool, data_dir: str | None = None) -> Corpus:
    """Picks the source: `--data` path, else the shipped sample with `--quick`, else tfds (in `data_dir`)."""
    if data:
        return read_archive(data)
    if quick:
        return read_sample()
    return load_tfds(data_dir)
