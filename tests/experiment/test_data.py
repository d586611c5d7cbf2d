import os
import tarfile

import numpy as np
import pytest

from labreport import LabreportError
from labreport.experiment import corpus as corpus_module
from labreport.experiment import encoding
from tests.conftest import NEGATIVE, POSITIVE, make_archive


def test_archive_reader_reads_labeled_splits_and_ignores_the_rest(tiny_archive):
    corpus = corpus_module.read_archive(tiny_archive)
    assert len(corpus.train) == len(corpus.test) == len(POSITIVE) + len(NEGATIVE)
    assert sorted(corpus.train.labels.tolist()) == [0, 0, 0, 1, 1, 1]
    assert all("unlabeled" not in text for text in corpus.train.texts)
    assert corpus.source == "archive"


def test_folder_reader_matches_archive_reader(tmp_path, tiny_archive):
    with tarfile.open(tiny_archive) as archive:
        archive.extractall(tmp_path / "x", filter="data")
    from_folder = corpus_module.read_archive(tmp_path / "x")
    from_archive = corpus_module.read_archive(tiny_archive)
    assert from_folder.train.texts == from_archive.train.texts
    assert from_folder.test.labels.tolist() == from_archive.test.labels.tolist()


def test_invalid_utf8_is_replaced_and_counted(tmp_path):
    corpus = corpus_module.read_archive(make_archive(tmp_path / "a.tar.gz", bad_utf8=True))
    assert corpus.undecodable == 1
    assert any("\ufffd" in text for text in corpus.train.texts)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.write_bytes(b""), "is empty"),
        (lambda p: p.write_bytes(b"this is not an archive at all" * 10), "not a tar archive"),
        (lambda p: make_archive(p, splits=("train",)), "no test reviews"),
    ],
)
def test_bad_archives_get_one_clear_error(tmp_path, make, message):
    path = tmp_path / "bad.tar.gz"
    make(path)
    with pytest.raises(LabreportError, match=message):
        corpus_module.read_archive(path)


def test_truncated_archive(tmp_path, tiny_archive):
    truncated = tmp_path / "cut.tar.gz"
    truncated.write_bytes(tiny_archive.read_bytes()[: tiny_archive.stat().st_size // 2])
    with pytest.raises(LabreportError, match="IMDB archive|not a tar archive"):
        corpus_module.read_archive(truncated)


def test_missing_path():
    with pytest.raises(LabreportError, match="does not exist"):
        corpus_module.read_archive("/nonexistent/aclImdb_v1.tar.gz")


def test_empty_class_folder(tmp_path):
    root = tmp_path / "aclImdb"
    for split in ("train", "test"):
        (root / split / "pos").mkdir(parents=True)
        (root / split / "neg").mkdir(parents=True)
        (root / split / "pos" / "1_9.txt").write_text("good")
    with pytest.raises(LabreportError, match="class folder aclImdb/train/neg is empty"):
        corpus_module.read_archive(tmp_path)


def test_line_breaks_and_punctuation_are_removed():
    assert encoding.tokenize("Great!<br /><br />Don't miss it.") == ["great", "don't", "miss", "it"]


def test_vocabulary_is_learned_from_training_reviews_only():
    vocabulary = encoding.build_vocabulary([["good", "good", "film"], ["film", "bad"]], size=4)
    assert vocabulary.words == ["film", "good"]  # most frequent first, ties alphabetical
    assert vocabulary.encode(["good", "unseen"]) == [3, encoding.OOV_INDEX]


def test_padding_keeps_the_end_with_pre_and_the_start_with_post():
    pre = encoding.pad([[1, 2, 3, 4], [5]], length=3, side="pre")
    post = encoding.pad([[1, 2, 3, 4], [5]], length=3, side="post")
    assert pre.tolist() == [[2, 3, 4], [0, 0, 5]]
    assert post.tolist() == [[1, 2, 3], [5, 0, 0]]


def test_length_statistics_truncated_share():
    stats = encoding.length_statistics(np.array([10, 20, 30, 400]), max_length=25)
    assert stats["truncated_share"] == 0.5
    assert stats["median"] == 25.0
    assert sum(stats["histogram"]["counts"]) == 4


def test_shipped_sample_is_real_and_balanced():
    corpus = corpus_module.read_sample()
    assert len(corpus.train) == 2000 and len(corpus.test) == 1000
    assert corpus.train.labels.sum() == 1000 and corpus.test.labels.sum() == 500


def test_tfds_loader_with_tensorflow_datasets_mock_data():
    import tensorflow_datasets.testing as tfds_testing  # a declared dependency: no skip

    with tfds_testing.mock_data(num_examples=12):
        corpus = corpus_module.load_tfds()
    assert corpus.source == "tfds"
    assert len(corpus.train) == 12 and len(corpus.test) == 12
    assert set(corpus.train.labels.tolist()) <= {0, 1}
    assert all(isinstance(text, str) for text in corpus.train.texts)


def test_tfds_offline_error_names_the_ways_out(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_module, "_network_reachable", lambda host, timeout=3.0: False)
    with pytest.raises(LabreportError, match=r"--data PATH.*--quick"):
        corpus_module.load_tfds(data_dir=str(tmp_path / "empty_tfds"))


def _folder(tmp_path):
    import tarfile

    from tests.conftest import make_archive

    with tarfile.open(make_archive(tmp_path / "a.tar.gz")) as archive:
        archive.extractall(tmp_path / "data", filter="data")
    return tmp_path / "data" / "aclImdb"


@pytest.mark.parametrize("make, message", [
    (lambda pos, tmp: (pos / "7_8.txt").mkdir(), r"7_8.txt is a folder, where a review file is expected"),
    (lambda pos, tmp: (pos / "7_8.txt").symlink_to("/etc/hostname"), r"7_8.txt is a link: labreport follows no links"),
    (lambda pos, tmp: (pos / "7_8.txt").write_bytes(b"x" * (2 << 20)), r"7_8.txt holds 2,097,152 bytes, more than a review's limit of 1,048,576"),
    (lambda pos, tmp: os.mkfifo(pos / "7_8.txt"), r"7_8.txt is not a regular file"),
])
def test_an_unexpected_entry_in_a_data_folder_is_named_in_one_line(tmp_path, make, message):
    from labreport import LabreportError
    from labreport.experiment.corpus import read_archive

    root = _folder(tmp_path)
    make(root / "train" / "pos", tmp_path)
    with pytest.raises(LabreportError, match=message):
        read_archive(root)


def test_a_class_folder_that_links_out_is_refused(tmp_path):
    from labreport import LabreportError
    from labreport.experiment.corpus import read_archive

    root = _folder(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    (root / "test" / "neg").rename(elsewhere)
    (root / "test" / "neg").symlink_to(elsewhere)
    with pytest.raises(LabreportError, match=r"test/neg is a link: labreport follows no links inside --data"):
        read_archive(root)


@pytest.mark.parametrize("header_type, kind", [(tarfile.GNUTYPE_LONGNAME, "GNU long name"),
                                               (tarfile.XHDTYPE, "PAX record")])
@pytest.mark.parametrize("claimed", [1 << 40, 300 << 20])
def test_a_tar_header_claiming_a_huge_payload_is_refused_before_it_is_read(tmp_path, header_type, kind, claimed):
    """tarfile reads a long name or PAX record whole, at its claimed size: 1 TB was a MemoryError."""
    from tests.conftest import tar_with_a_huge_header

    archive = tar_with_a_huge_header(tmp_path / "aclImdb_v1.tar.gz", header_type, claimed)
    with pytest.raises(LabreportError) as raised:
        corpus_module.read_archive(archive)
    assert str(raised.value) == (f"{archive}: a tar header ({kind}) claims {claimed:,} bytes, more than the limit "
                                 "of 65,536")


def test_a_review_number_of_5000_digits_is_one_line(tmp_path):
    """In a tar (a folder's names stop at 255 bytes, so there: 240 digits); Python reads no int of 4,300 digits."""
    root = _folder(tmp_path)
    (root / "train" / "pos" / ("9" * 240 + "_8.txt")).write_bytes(b"a review")
    with pytest.raises(LabreportError) as raised:
        corpus_module.read_archive(root)
    assert str(raised.value) == (f"{str(root / 'train' / 'pos' / ('9' * 240))[:200]}: a review file's number has at "
                                 "most 9 digits, this one has 240")
    name = "9" * 5000 + "_8.txt"
    from tests.conftest import add_file

    with tarfile.open(tmp_path / "b.tar", "w") as tarred:
        add_file(tarred, f"aclImdb/train/pos/{name}", b"a review")
    with pytest.raises(LabreportError) as raised:
        corpus_module.read_archive(tmp_path / "b.tar")
    member = f"aclImdb/train/pos/{name}"[:200]
    assert str(raised.value) == (f"{tmp_path / 'b.tar'}: {member}: a review file's number has at most 9 digits, "
                                 "this one has 5,000")


@pytest.mark.parametrize("linked", ["train", "aclImdb"])
def test_a_split_folder_that_links_out_is_refused(tmp_path, linked):
    root = _folder(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    if linked == "train":
        (root / "train").rename(elsewhere)
        (root / "train").symlink_to(elsewhere)
        expected = f"{root / 'train'} is a link: labreport follows no links inside --data"
    else:
        root.rename(elsewhere)
        root.symlink_to(elsewhere)
        expected = f"{root} is a link: labreport follows no links inside --data"
    with pytest.raises(LabreportError) as raised:
        corpus_module.read_archive(root.parent)
    assert str(raised.value) == expected


def test_more_reviews_than_the_data_limit_are_refused(tmp_path):
    """130 reviews of 1 MiB (the real IMDB's 50,000 labeled reviews hold 65.5 MB); 200 of them took 3 GB."""
    root = _folder(tmp_path)
    review = b"a fine film " * (corpus_module.MAX_REVIEW_BYTES // 12)
    for number in range(130):
        (root / "train" / "pos" / f"{100 + number}_8.txt").write_bytes(review)
    with pytest.raises(LabreportError) as raised:
        corpus_module.read_archive(root)
    assert str(raised.value) == (f"{root} holds more than 128 MiB of reviews, the limit for --data (the real IMDB "
                                 "holds 65.5 MB)")


def test_more_than_16_long_name_headers_in_a_row_are_refused(tmp_path):
    """Each header is read inside the previous one's call: a chain of thousands exhausted Python's stack."""
    header = tarfile.TarInfo("././@LongLink")
    header.type, header.size = tarfile.GNUTYPE_LONGNAME, 512
    chain = (header.tobuf(format=tarfile.GNU_FORMAT) + b"aclImdb/train/pos/0_8.txt".ljust(512, b"\0")) * 17
    (tmp_path / "chain.tar").write_bytes(chain + b"\0" * 1024)
    with pytest.raises(LabreportError) as raised:
        corpus_module.read_archive(tmp_path / "chain.tar")
    assert str(raised.value) == f"{tmp_path / 'chain.tar'}: more than 16 long-name or PAX headers in a row in a tar archive"
