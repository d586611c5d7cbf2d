"""A run's own files that come from elsewhere: a checkpoint swapped in from another run, a tampered
`.partial/` entry, a cover whose hand-in name is longer than a file system takes. Each is one line or
a model trained again, never a traceback, and nothing is lost."""

import json

import numpy as np
import pytest

from labreport.core import LabreportError
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
