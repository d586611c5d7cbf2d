"""A run's own files that come from elsewhere: a checkpoint swapped in from another run, a tampered
`.partial/` entry, a cover whose hand-in name is longer than a file system takes. Each is one line or
a model trained again, never a traceback, and nothing is lost."""

import json

import numpy as np
import pytest

from labreport.core import LabreportError, arrays
from labreport.core.config import load_config
from labreport.experiment import models, resume
from labreport.report import files as report_files

FIELDS = ("seed", "display_name")


def save_model(path, cell, config):
    models.build_model(cell, config, sequence_length=config.data.max_length).save(path)


@pytest.fixture(scope="module")
def quick():
    return load_config(None, {}, quick=True)


def write_partial(folder, quick, entry=None, arrays=None, cell="gru", model_config=None):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "gru.json").write_text(json.dumps(entry if entry is not None else {"seed": 1, "display_name": "BiGRU"}))
    arrays = arrays if arrays is not None else {"gru": np.full(6, 0.5), "gru_last": np.full(6, 0.4)}
    np.savez(folder / "gru.npz", **arrays)
    save_model(folder / "gru.keras", cell, model_config or quick)


def test_an_untouched_partial_model_is_reused(tmp_path, quick):
    write_partial(tmp_path, quick)
    entry, probabilities = resume.load_partial(tmp_path, "gru", config=quick, test_size=6, fields=FIELDS)
    assert entry["display_name"] == "BiGRU" and set(probabilities) == {"gru", "gru_last"}


@pytest.mark.parametrize("tampering", ["entry a list", "entry without its fields", "probabilities of another length",
                                       "probabilities above 1", "another array", "an lstm checkpoint",
                                       "another vocabulary", "not a model"])
def test_a_tampered_partial_model_is_trained_again(tmp_path, quick, tampering):
    other = load_config(None, {"data": {"vocab_size": quick.data.vocab_size + 7}}, quick=True)
    write_partial(tmp_path, quick, **{
        "entry a list": {"entry": [1, 2]},
        "entry without its fields": {"entry": {"seed": 1}},
        "probabilities of another length": {"arrays": {"gru": np.full(5, 0.5), "gru_last": np.full(5, 0.5)}},
        "probabilities above 1": {"arrays": {"gru": np.full(6, 7.0), "gru_last": np.full(6, 0.5)}},
        "another array": {"arrays": {"gru": np.full(6, 0.5), "evil": np.full(6, 0.5)}},
        "an lstm checkpoint": {"cell": "lstm"},
        "another vocabulary": {"model_config": other},
        "not a model": {},
    }[tampering])
    if tampering == "not a model":
        (tmp_path / "gru.keras").write_bytes(b"PK\x03\x04 not a keras file")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert resume.load_partial(tmp_path, "gru", config=quick, test_size=6, fields=FIELDS) is None
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_a_model_swapped_in_from_another_run_is_named(tmp_path, quick):
    save_model(tmp_path / "gru.keras", "lstm", quick)
    assert resume.checkpoint_problem(tmp_path / "gru.keras", "gru", quick) == (
        f"it is a lstm model with a {quick.data.vocab_size:,}×{quick.model.embedding_dim} embedding, the run's gru has "
        f"{quick.data.vocab_size:,}×{quick.model.embedding_dim}")


def test_a_90_syllable_korean_name_is_cut_to_what_a_file_system_takes(record_dir):
    """500 characters are allowed on the cover; the hand-in name is cut (whole syllables) to 200 bytes,
    so the PDF is written instead of failing after the render with a line about `.labreport-next`."""
    name = "가나다라마바사아자차" * 9
    written = report_files.render_all(record_dir, ["ko"], ["pdf"], report={"name": name, "student_id": "2024123456"})
    handed_in = [path for path in written if path.name.startswith("2024123456_")]
    assert len(handed_in) == 1 and handed_in[0].is_file()
    assert len(handed_in[0].name.encode("utf-8")) <= report_files.MAX_FILE_NAME_BYTES
    assert handed_in[0].name.endswith(".ko.pdf") and "가나다라" in handed_in[0].name


def test_a_hand_in_name_too_long_for_the_folder_stops_before_any_work(tmp_path, monkeypatch):
    import os

    monkeypatch.setattr(os, "pathconf", lambda path, key: 143)  # eCryptfs takes 143 bytes a name
    with pytest.raises(LabreportError) as caught:
        report_files.check_file_names(tmp_path, {"name": "가" * 60, "student_id": "1"}, ["ko"])
    assert str(caught.value).endswith(f"bytes, more than {tmp_path} takes (129): shorten name or submission_name under [report]")


def npz_bomb(path, claimed_values, member="gru.npy"):
    """An `.npz` whose one array's header claims `claimed_values` float64s but whose data is a few bytes:
    `np.load` would allocate what the header says before finding the data short."""
    import io
    import zipfile
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1))
    header["shape"] = (claimed_values,)
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, buffer.getvalue() + b"\0" * 64)


def test_a_partial_npz_that_claims_gigabytes_is_refused_from_its_header(tmp_path, quick):
    write_partial(tmp_path, quick)
    npz_bomb(tmp_path / "gru.npz", 500_000_000)  # 4 GB of float64 if unpacked
    with pytest.raises(LabreportError, match=r"^gru\.npz: 'gru\.npy' has shape \(500000000,\), not \(6,\): one value per test review$"):
        arrays.load_npz(tmp_path / "gru.npz", "gru.npz", 6, 64 * 1024 * 1024)
    assert resume.load_partial(tmp_path, "gru", config=quick, test_size=6, fields=FIELDS) is None


def crafted_keras(path, quick, **changes):
    """The quick run's GRU checkpoint with its config.json's embedding sizes changed (weights untouched)."""
    import zipfile
    save_model(path, "gru", quick)
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    saved = json.loads(members["config.json"])
    for layer in saved["config"]["layers"]:
        if layer["class_name"] == "Embedding":
            layer["config"].update(changes)
    members["config.json"] = json.dumps(saved).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_a_checkpoint_whose_config_claims_a_huge_embedding_is_refused_before_keras_builds_it(tmp_path, quick):
    crafted_keras(tmp_path / "gru.keras", quick, input_dim=250_000_000)  # 250M x embedding: gigabytes if built
    wanted = f"{quick.data.vocab_size:,}×{quick.model.embedding_dim}"
    line = (f"it is a gru model with a 250,000,000×{quick.model.embedding_dim} embedding, the run's gru has {wanted}")
    assert resume.keras_file_problem(tmp_path / "gru.keras", "gru", quick) == line
    assert resume.checkpoint_problem(tmp_path / "gru.keras", "gru", quick) == line


def test_a_checkpoint_with_other_units_is_refused_before_keras_builds_it(tmp_path, quick):
    save_model(tmp_path / "gru.keras", "gru", quick)
    assert resume.keras_file_problem(tmp_path / "gru.keras", "gru", quick) is None
    bigger = load_config(None, {"model": {"hidden_units": quick.model.hidden_units + 1}}, quick=True)
    assert resume.keras_file_problem(tmp_path / "gru.keras", "gru", bigger) == (
        f"a layer has {quick.model.hidden_units} units, the run's have {quick.model.hidden_units + 1}")


def test_a_run_file_that_is_a_pipe_is_refused_at_once_not_waited_on(tmp_path):
    """A named pipe where a record should be: opening it for reading would wait for a writer forever."""
    import os
    import threading

    from labreport.core import fileio

    os.mkfifo(tmp_path / "results.json")
    outcome = []
    reader = threading.Thread(target=lambda: outcome.append(_refusal(fileio.read_run_file, tmp_path, "results.json", 1000)),
                              daemon=True)
    reader.start()
    reader.join(10)
    assert outcome == ["results.json is not a plain file"]


def test_a_file_over_its_bound_is_refused_with_its_size_and_a_link_unread(tmp_path):
    from labreport.core import fileio

    (tmp_path / "big.pdf").write_bytes(b"x" * 101)
    assert _refusal(fileio.read_at_most, tmp_path / "big.pdf", 100, "the PDF", allowed="a report may be") == \
        "the PDF is 101 bytes, more than the 100 a report may be"
    (tmp_path / "link.pdf").symlink_to(tmp_path / "big.pdf")
    assert "is a link" in _refusal(fileio.read_at_most, tmp_path / "link.pdf", 1000, "the PDF")
    assert fileio.read_at_most(tmp_path / "big.pdf", 101, "the PDF") == b"x" * 101


def _refusal(function, *args, **kwargs) -> str:
    with pytest.raises(LabreportError) as caught:
        function(*args, **kwargs)
    return str(caught.value)
