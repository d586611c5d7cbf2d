"""What a fresh install brings: the shipped font and its licence, true dependency floors, the record's
JSON Schema, the history files, a quiet TensorFlow start, GPU-eligible recurrent layers."""

from __future__ import annotations

import ast
import copy
import importlib
import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from labreport import LabreportError
from labreport.core import record as record_module
from labreport.report import fonts

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "labreport"

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib


# ---------------------------------------------------------------------------------------------
# The font


def test_the_font_ships_inside_the_package_with_its_licence():
    from fontTools.ttLib import TTFont

    assert fonts.LICENSE.is_file() and "SIL OPEN FONT LICENSE" in fonts.LICENSE.read_text(encoding="utf-8")
    assert "Reserved Font Name Nanum" in fonts.LICENSE.read_text(encoding="utf-8")
    for path in fonts.font_files().values():
        assert path.is_file() and path.parent == PACKAGE / "report" / "fonts"
        assert path.stat().st_size < 1_000_000, f"{path.name} is {path.stat().st_size} bytes: cut it down again"
        names = TTFont(str(path))["name"]
        family = names.getDebugName(1)
        assert family == fonts.FAMILY
        # A Modified Version may not carry a Reserved Font Name, in any language or name record.
        for record in names.names:
            assert "nanum" not in record.toUnicode().lower().replace(" ", "") or record.nameID in (0, 10, 13), record
        assert "Open Font License" in names.getDebugName(13)


def ks_x_1001_hangul() -> set[str]:
    return {bytes([row, cell]).decode("euc-kr") for row in range(0xB0, 0xC9) for cell in range(0xA1, 0xFF)}


def test_the_font_covers_the_common_hangul_and_every_character_the_report_prints():
    from fontTools.ttLib import TTFont

    text = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "templates").rglob("*") if p.is_file())
    text += (PACKAGE / "report" / "references.json").read_text(encoding="utf-8")
    # Drawn by other fonts on purpose: the formulas' combining tilde and subscript zero, the minus
    # sign (figures use "-"), the check marks in the parameter table (see style.css).
    elsewhere = set("\u0303\u2080\u2212\u2713\u2717")
    wanted = {ch for ch in text if ord(ch) > 0x7E} - elsewhere
    for path in fonts.font_files().values():
        cmap = TTFont(str(path)).getBestCmap()
        assert ks_x_1001_hangul() <= {chr(code) for code in cmap}
        missing = sorted(ch for ch in wanted if ord(ch) not in cmap)
        assert not missing, f"{path.name} lacks {missing}"
        assert all(ord(ch) in cmap for ch in "AZaz09.,%()–—·×±αση")


def test_nothing_imports_a_font_package_or_a_module_python_removed():
    removed = {"distutils", "imp", "asynchat", "asyncore", "smtpd", "cgi", "cgitb", "crypt", "imghdr", "mailcap",
               "msilib", "nis", "nntplib", "ossaudiodev", "pipes", "sndhdr", "spwd", "sunau", "telnetlib", "uu",
               "xdrlib", "lib2to3", "koreanize_matplotlib"}
    for path in list(PACKAGE.rglob("*.py")) + list((ROOT / "scripts").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                assert name.split(".")[0] not in removed, f"{path.name} imports {name}"


def test_a_review_in_japanese_with_emoji_keeps_its_words_in_the_figures(checked_in_record):
    """Figures draw the words as text, in the shipped font first (the PDF side: tests/test_same_pdf.py)."""
    from labreport.report import embedding, figures, templates
    record = copy.deepcopy(checked_in_record)
    for entry in record["models"].values():
        entry["attributions"]["learned"]["positive"][0]["word"] = "最高👍"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        drawn = figures.all_figures(record, embedding.figure_label(templates.load_catalog("ko")))
    assert "最高👍" in drawn["learned"]["svg"].decode("utf-8")
    assert "'Labreport Gothic', 'DejaVu Sans'" in drawn["learned"]["svg"].decode("utf-8")


# ---------------------------------------------------------------------------------------------
# Dependencies


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def distribution(requirement: str) -> str:
    return re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0).lower().replace("_", "-")


def test_every_third_party_import_is_a_declared_dependency():
    modules_to_distribution = {
        "tensorflow": "tensorflow", "keras": "keras", "tensorflow_datasets": "tensorflow-datasets", "numpy": "numpy",
        "matplotlib": "matplotlib", "jinja2": "jinja2", "markupsafe": "jinja2", "markdown_it": "markdown-it-py",
        "weasyprint": "weasyprint", "fontTools": "fonttools", "tomli": "tomli", "jsonschema": "jsonschema",
        "ray": "ray", "docx": "python-docx", "hwpx": "python-hwpx", "pypdf": "pypdf", "pydyf": "pydyf", "lxml": "lxml",
    }
    declared = {distribution(r) for r in project()["dependencies"]}
    # labreport sweep's engine imports Ray, the `sweep` extra, inside the command that needs it.
    optional = {PACKAGE / "sweep": {distribution(r) for r in project()["optional-dependencies"]["sweep"]}}
    # The word-processor exporters import theirs, the `office` extra, inside `export`.
    optional[PACKAGE / "report" / "exporters"] = {distribution(r) for r in project()["optional-dependencies"]["office"]}
    # tomllib is standard from Python 3.11; below it the code falls back to tomli, declared for those.
    stdlib = set(sys.stdlib_module_names) | {"labreport", "__future__", "tomllib"}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            for name in names:
                top = name.split(".")[0]
                if top in stdlib:
                    continue
                assert top in modules_to_distribution, f"{path.name} imports {top}, which no dependency provides"
                allowed = declared | next((extra for folder, extra in optional.items() if folder in path.parents), set())
                assert modules_to_distribution[top] in allowed, f"{path.name} imports {top}: declare it"


def test_every_dependency_has_a_floor_and_the_licence_files_ship():
    minimum = subprocess.run([sys.executable, str(ROOT / "scripts" / "minimum_versions.py")],
                             capture_output=True, text=True, check=True).stdout.split()
    names = {line.split("==")[0].lower() for line in minimum}
    assert {"tensorflow", "weasyprint", "fonttools", "jinja2", "numpy", "jsonschema"} <= names
    assert "weasyprint==70.0" in minimum  # tagged PDF/A-3 with attachments, the same bytes with any fonts (70.0)
    meta = project()
    assert meta["license"] == "MIT AND OFL-1.1"
    for name in meta["license-files"]:
        assert (ROOT / name).is_file()
    build = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["build-system"]["requires"]
    assert any(re.fullmatch(r"setuptools>=(\d+)", r) and int(r.split(">=")[1]) >= 77 for r in build)
    assert any(r.startswith("tensorflow[and-cuda]") for r in meta["optional-dependencies"]["gpu"])


# ---------------------------------------------------------------------------------------------
# The record's schema and the history files


def validator():
    import jsonschema
    schema = record_module.schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_schema_matches_the_version_the_code_writes():
    schema = record_module.schema()
    assert schema["properties"]["schema_version"]["enum"] == list(record_module.READABLE_VERSIONS)
    assert record_module.READABLE_VERSIONS[-1] == record_module.SCHEMA_VERSION
    assert f"schema version {record_module.SCHEMA_VERSION}" in schema["title"]


def test_the_checked_in_record_is_valid_and_a_wrong_type_is_not(checked_in_record):
    check = validator()
    check.validate(checked_in_record)
    for path, value in ((("models", "gru", "test", "accuracy"), "0.87"),
                        (("models", "lstm", "history", "loss"), {"0": 0.5}),
                        (("dataset", "splits", "test", "total"), 2.5),
                        (("models", "gru", "device"), None)):
        broken = copy.deepcopy(checked_in_record)
        target = broken
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        errors = list(check.iter_errors(broken))
        assert errors and any(list(error.absolute_path)[-1:] == [path[-1]] for error in errors), path


def test_labreport_schema_prints_the_shipped_schema():
    result = subprocess.run([sys.executable, "-m", "labreport", "schema"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert json.loads(result.stdout) == record_module.schema()


def test_history_csv_has_keras_csvlogger_layout(tmp_path):
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    x, y = np.random.rand(16, 3).astype("float32"), (np.random.rand(16) > 0.5).astype("float32")
    fitted = model.fit(x, y, epochs=2, validation_split=0.25, verbose=0,
                       callbacks=[keras.callbacks.CSVLogger(str(tmp_path / "keras.csv"))])
    keras_lines = (tmp_path / "keras.csv").read_text().splitlines()
    ours = record_module.history_csv({k: v for k, v in fitted.history.items() if k != "learning_rate"}).splitlines()
    assert ours[0] == keras_lines[0]
    assert len(ours) == len(keras_lines) == 3
    for mine, theirs in zip(ours[1:], keras_lines[1:]):
        assert [float(v) for v in mine.split(",")] == pytest.approx([float(v) for v in theirs.split(",")], rel=1e-6)


# ---------------------------------------------------------------------------------------------
# TensorFlow's start and the GPU


def test_start_up_noise_is_recognised_and_nothing_else():
    from labreport.experiment.runtime import START_UP_NOISE

    noise = [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "I0000 00:00:1795855414.113716   26663 port.cc:153] oneDNN custom operations are on. You may see slightly "
        "different numerical results due to floating-point round-off errors from different computation orders.",
        "I0000 00:00:1795855414.114130   26663 cudart_stub.cc:31] Could not find cuda drivers on your machine, "
        "GPU will not be used.",
        "E0000 00:00:1795855417.679678   26663 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: "
        "Failed call to cuInit: UNKNOWN ERROR (303)",
        "2026-11-28 08:49:35.366634: E external/local_xla/xla/stream_executor/cuda/cuda_fft.cc:477] Unable to "
        "register cuFFT factory: Attempting to register factory for plugin cuFFT when one has already been registered",
        "2026-11-28 08:49:36.901197: E external/local_xla/xla/stream_executor/cuda/cuda_driver.cc:152] failed call "
        "to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
    ]
    kept = [
        "labreport: error: no results record",
        "E0000 00:00:1795855417.679678   26663 op_kernel.cc:1830] OP_REQUIRES failed at strided_slice_op.cc",
        "Traceback (most recent call last):",
        "2026-11-28 08:49:36.901197: E tensorflow/core/framework/op_kernel.cc:1830] OP_REQUIRES failed",
    ]
    assert all(START_UP_NOISE.match(line) for line in noise)
    assert not any(START_UP_NOISE.match(line) for line in kept)


def test_a_cpu_run_prints_no_tensorflow_start_up_noise(tmp_path):
    quiet = subprocess.run([sys.executable, "-m", "labreport", "params", "--quick"], capture_output=True, text=True,
                           timeout=300, cwd=tmp_path)
    assert quiet.returncode == 0
    assert quiet.stderr == "", quiet.stderr
    loud = subprocess.run([sys.executable, "-m", "labreport", "params", "--quick", "-v"], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    assert loud.returncode == 0 and loud.stdout == quiet.stdout


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_recurrent_layers_stay_eligible_for_cudnn(cell):
    """The conditions Keras checks before it runs a GRU/LSTM with cuDNN on a GPU, for both directions."""
    from keras import activations

    from labreport.core.config import load_config
    from labreport.experiment import models

    model = models.build_model(cell, load_config(None, quick=True, cwd=ROOT / "tests"))
    assert model.get_layer("embedding").mask_zero is False  # cuDNN takes no left-padded mask
    bidirectional = model.get_layer("bidirectional")
    for layer in (bidirectional.forward_layer, bidirectional.backward_layer):
        assert layer.use_cudnn in ("auto", True)
        assert layer.dropout == 0 and layer.recurrent_dropout == 0
        assert not layer.unroll and layer.cell.use_bias
        assert layer.cell.activation is activations.tanh
        assert layer.cell.recurrent_activation is activations.sigmoid
        if cell == "gru":
            assert layer.cell.reset_after
        try:  # Keras' own test, where this Keras has it
            keras_rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")
        except ImportError:
            continue
        arguments = dict(activation=layer.cell.activation, recurrent_activation=layer.cell.recurrent_activation,
                         unroll=layer.unroll, use_bias=layer.cell.use_bias)
        if cell == "gru":
            assert keras_rnn._do_gru_arguments_support_cudnn(reset_after=layer.cell.reset_after, **arguments)
        else:
            assert keras_rnn._do_lstm_arguments_support_cudnn(**arguments)


# ---------------------------------------------------------------------------------------------
# Where tensorflow-datasets keeps its data


def test_data_dir_comes_from_the_flag_then_tfds_data_dir(monkeypatch, tmp_path):
    from labreport.experiment import corpus as corpus_module
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "env"))
    assert corpus_module.tfds_data_dir() == tmp_path / "env"
    assert corpus_module.tfds_data_dir(str(tmp_path / "flag")) == tmp_path / "flag"
    monkeypatch.delenv("TFDS_DATA_DIR")
    assert corpus_module.tfds_data_dir() == Path.home() / "tensorflow_datasets"


def test_a_broken_tfds_copy_is_reported_as_broken_not_missing(tmp_path):
    from labreport.experiment import corpus as corpus_module

    copy_folder = tmp_path / "imdb_reviews" / "plain_text" / "1.0.0"
    copy_folder.mkdir(parents=True)
    (copy_folder / "dataset_info.json").write_text("{ not json", encoding="utf-8")
    with pytest.raises(LabreportError, match=r"cannot be read.*delete that folder"):
        corpus_module.load_tfds(str(tmp_path))


def test_the_network_check_goes_through_https_proxy(monkeypatch):
    import socket
    import threading

    from labreport.experiment import corpus as corpus_module

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    seen = []

    def answer():
        connection, _ = server.accept()
        seen.append(connection.recv(4096).decode("latin-1").splitlines()[0])
        connection.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        connection.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{server.getsockname()[1]}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    corpus_module._network_reachable("ai.stanford.edu", timeout=5)
    thread.join(5)
    server.close()
    assert seen and seen[0].startswith("CONNECT ai.stanford.edu:443 HTTP/")
