"""`labreport train --quick` for real: a small run on the shipped sample, checked for consistency."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from labreport.experiment import kernels
from tests.conftest import compiled_loops_unbuildable

pytestmark = pytest.mark.training

ARGS = ["--quick", "--epochs", "2", "--max-length", "120"]


def run_cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "labreport", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two runs with the same settings and seed, in separate processes."""
    outs = []
    for i in range(2):
        out = tmp_path_factory.mktemp(f"run{i}")
        result = run_cli("train", "--out", str(out), *ARGS)
        assert result.returncode == 0, result.stderr[-3000:]
        outs.append(out)
    return outs


def load(out):
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


def test_record_is_complete_and_consistent(runs):
    import jsonschema

    from labreport.core import record as record_module
    record = load(runs[0])
    assert record["schema_version"] == record_module.SCHEMA_VERSION
    jsonschema.Draft202012Validator(record_module.schema()).validate(record)  # a fresh record meets the shipped schema
    assert list(record["models"]) == ["gru", "lstm"]
    assert record["dataset"]["splits"]["train"]["total"] == 1600
    assert record["dataset"]["splits"]["validation"]["total"] == 400
    assert record["dataset"]["splits"]["test"]["total"] == 1000
    assert record["environment"]["command"].startswith("labreport train --out ")
    assert record["environment"]["command"].endswith(" ".join(ARGS))
    for name, entry in record["models"].items():
        history = entry["history"]
        assert len(history["loss"]) == len(history["val_accuracy"]) == entry["epochs_run"] == len(entry["epoch_seconds"])
        assert entry["best_epoch"] == int(np.argmax(history["val_accuracy"])) + 1
        assert entry["best_criterion"]["value"] == pytest.approx(max(history["val_accuracy"]), abs=1e-6)
        for key in ("test", "test_last_epoch"):
            test = entry[key]
            (tn, fp), (fn, tp) = test["confusion_matrix"]
            assert tn + fp + fn + tp == test["reviews"] == 1000
            assert test["accuracy"] == pytest.approx((tn + tp) / 1000, abs=1e-6)
        assert entry["summary_rows"][1]["output_shape"] == "(None, 120, 32)"
        assert "Total params" in entry["summary_text"]
        assert entry["params"]["total"]["ok"] is True
        assert entry["total_params"] == entry["params"]["total"]["keras"]
        assert (runs[0] / entry["model_file"]).is_file()
        assert entry["device"] == "CPU"
        fast = "fused" if compiled_loops_unbuildable() else "compiled"  # a build that fails here fails the test
        assert entry["recurrent_loop"] == (fast if name in ("gru", "lstm") else "keras")
        if entry["recurrent_loop"] == "compiled":
            assert entry["loop_build"] == kernels.default().build_facts() and entry["loop_build"]["target"]
        saved = keras.saving.load_model(runs[0] / entry["model_file"])  # Keras alone reads it: no labreport layer
        assert type(saved.get_layer("bidirectional").forward_layer) is {"gru": keras.layers.GRU, "lstm": keras.layers.LSTM}[name]
        csv_rows = (runs[0] / "history" / f"{name}.csv").read_text().splitlines()
        assert csv_rows[0] == "epoch,accuracy,loss,val_accuracy,val_loss" and len(csv_rows) == entry["epochs_run"] + 1
        assert [float(v) for v in csv_rows[1].split(",")[1:]] == [history[k][0] for k in ("accuracy", "loss", "val_accuracy", "val_loss")]


def test_both_models_get_the_same_sample_reviews(runs):
    record = load(runs[0])
    gru, lstm = record["models"]["gru"]["samples"], record["models"]["lstm"]["samples"]
    assert [s["index"] for s in gru] == [s["index"] for s in lstm]
    assert [s["text"] for s in gru] == [s["text"] for s in lstm]
    assert all("<br" not in s["text"] for s in gru)


def test_saved_predictions_match_the_record(runs):
    record = load(runs[0])
    predictions = np.load(runs[0] / "predictions.npz")
    for name, entry in record["models"].items():
        probabilities = predictions[name]
        decisions = (probabilities > 0.5).astype(int)
        labels = predictions["labels"]
        assert np.mean(decisions == labels) == pytest.approx(entry["test"]["accuracy"], abs=1e-6)
        for sample in entry["samples"]:
            assert probabilities[sample["index"]] == pytest.approx(sample["probability"], abs=1e-6)


def test_predict_gives_the_records_probabilities(runs):
    record = load(runs[0])
    samples = record["models"]["gru"]["samples"]
    texts = [s["text"] for s in samples]
    result = run_cli("predict", "--out", str(runs[0]), "--json", *texts)
    assert result.returncode == 0, result.stderr[-3000:]
    predicted = json.loads(result.stdout)
    for name, entry in record["models"].items():
        for review, sample in zip(predicted["reviews"], entry["samples"]):
            assert review["predictions"][name]["probability"] == pytest.approx(sample["probability"], abs=1e-5)
            assert review["predictions"][name]["decision"] == ("positive" if sample["decision"] else "negative")


def test_predict_reads_a_file_and_refuses_a_folder_without_models(tmp_path, runs):
    reviews = tmp_path / "reviews.txt"
    reviews.write_text("A wonderful film.\n\nDull, boring, far too long.\n", encoding="utf-8")
    result = run_cli("predict", "--out", str(runs[0]), "--file", str(reviews))
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(result.stdout.strip().splitlines()) == 2
    empty = run_cli("predict", "--out", str(tmp_path), "good film")
    assert empty.returncode != 0 and "no finished run" in empty.stderr and "Traceback" not in empty.stderr


def test_predict_says_when_a_review_holds_no_word_of_the_vocabulary(runs):
    result = run_cli("predict", "--out", str(runs[0]), "--json", "", "🎬👍🎬", "A wonderful film.")
    assert result.returncode == 0, result.stderr[-3000:]
    reviews = json.loads(result.stdout)["reviews"]
    assert [review["known_words"] for review in reviews][:2] == [0, 0] and reviews[2]["known_words"] > 0
    # Both read only padding: the same probability, which says nothing about either review, and no decision.
    assert reviews[0]["predictions"] == reviews[1]["predictions"]
    assert [p["decision"] for review in reviews[:2] for p in review["predictions"].values()] == [None] * 4
    assert {p["decision"] for p in reviews[2]["predictions"].values()} <= {"positive", "negative"}
    table = run_cli("predict", "--out", str(runs[0]), "🎬👍🎬", "A wonderful film.").stdout.splitlines()
    assert table[0].endswith("(no word of the vocabulary: the probability says nothing about this review)")
    assert "positive" not in table[0] and "negative" not in table[0]
    assert "vocabulary" not in table[1] and ("positive" in table[1] or "negative" in table[1])


def strip_timings(record):
    record = json.loads(json.dumps(record))
    record.pop("environment")
    for entry in record["models"].values():
        entry.pop("epoch_seconds")
        entry.pop("inference")
        entry["aggregate"].pop("seconds_per_epoch")
        entry["attributions"].pop("seconds")
        for run in entry["runs"]:
            run.pop("epoch_seconds")
            run.pop("inference")
    return record


def test_same_seed_gives_the_same_numbers(runs):
    first, second = load(runs[0]), load(runs[1])
    assert strip_timings(first) == strip_timings(second)
    for name in first["models"]:
        assert np.array_equal(np.load(runs[0] / "predictions.npz")[name], np.load(runs[1] / "predictions.npz")[name])


def test_a_different_seed_gives_different_numbers(tmp_path, runs):
    result = run_cli("train", "--out", str(tmp_path), *ARGS, "--seed", "7", "--models", "gru")
    assert result.returncode == 0, result.stderr[-3000:]
    other = load(tmp_path)
    assert other["config_hash"] != load(runs[0])["config_hash"]
    assert other["models"]["gru"]["history"] != load(runs[0])["models"]["gru"]["history"]


def test_two_seeds_are_kept_summarised_and_reported(tmp_path, runs):
    result = run_cli("build", "--out", str(tmp_path), *ARGS, "--models", "gru", "--seeds", "2", "--format", "html")
    assert result.returncode == 0, result.stderr[-3000:]
    record, single = load(tmp_path), load(runs[0])
    entry = record["models"]["gru"]
    assert [run["seed"] for run in entry["runs"]] == [42, 43] == entry["aggregate"]["seeds"]
    # The first run is the one-seed run: same seed, same data, same numbers.
    assert entry["runs"][0]["history"] == entry["history"] == single["models"]["gru"]["history"]
    assert entry["runs"][0]["test"] == entry["test"]
    assert entry["runs"][1]["history"] != entry["runs"][0]["history"]
    accuracies = [run["test"]["accuracy"] for run in entry["runs"]]
    assert entry["aggregate"]["test_accuracy"]["mean"] == pytest.approx(np.mean(accuracies))
    assert entry["aggregate"]["test_accuracy"]["sd"] == pytest.approx(np.std(accuracies, ddof=1))
    predictions = np.load(tmp_path / "predictions.npz")
    second = (predictions["gru_seed43"] > 0.5).astype(int) == predictions["labels"]
    assert np.mean(second) == pytest.approx(entry["runs"][1]["test"]["accuracy"], abs=1e-6)
    html = (tmp_path / "report.en.html").read_text(encoding="utf-8")
    assert "Across 2 seeds" in html and "42: " in html and "43: " in html
    assert "시드 2개" in (tmp_path / "report.ko.html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def quick_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    result = run_cli("build", "--quick", "--out", str(out), "--epochs", "1", "--models", "gru,lstm")
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result


def test_build_quick_writes_the_whole_report(quick_build):
    out, result = quick_build
    from pypdf import PdfReader

    record = load(out)
    for lang in ("ko", "en"):
        html = (out / f"report.{lang}.html").read_text(encoding="utf-8")
        test_table = html[html.index('<figure class="table" id="tab-test">'):]
        test_table = test_table[:test_table.index("</figure>")]
        pdf = "".join(page.extract_text() for page in PdfReader(out / f"report.{lang}.pdf").pages)
        for entry in record["models"].values():
            accuracy = f"{entry['test']['accuracy'] * 100:.2f}%"
            assert f'<td class="num">{accuracy}</td>' in test_table and accuracy in pdf
        assert len(PdfReader(out / f"report.{lang}.pdf").pages) > 10
    assert record["dataset"]["source"] == "sample"
    assert "epoch 1/1" in result.stderr  # progress is reported while training
    assert "\r" not in result.stderr and "batches, loss" not in result.stderr  # in a pipe: lines, no bar animation
    assert result.stderr.count("warning: the cover has no name or student ID") == 1


def test_a_student_adds_their_own_words_after_build_quick(quick_build):
    """build --quick, then `notes --lang ko`, two paragraphs with two live numbers, render: they are
    in the Korean HTML and PDF, numbered and in the table of contents; nothing trains again."""
    out, _ = quick_build
    result = run_cli("notes", "--lang", "ko", "--out", str(out))
    assert result.returncode == 0, result.stderr
    notes = out / "notes.ko.md"
    starter = notes.read_text(encoding="utf-8")
    assert "# 고찰" in starter and "# 결론" in starter
    notes.write_text(starter.replace("# 고찰\n", "# 고찰\n\nBiGRU의 테스트 정확도는 {{ models.gru.test.accuracy | pct }}였다. "
                                             "BiLSTM은 {{ models.lstm.test.accuracy | pct }}였다.\n\n"
                                             "두 번째 문단: 에포크가 한 번뿐이라 결론은 조심스럽다.\n"), encoding="utf-8")
    models_before = sorted((p.name, p.stat().st_mtime_ns) for p in (out / "models").iterdir())
    result = run_cli("render", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert sorted((p.name, p.stat().st_mtime_ns) for p in (out / "models").iterdir()) == models_before
    record = load(out)
    gru, lstm = (f"{record['models'][n]['test']['accuracy'] * 100:.2f}%" for n in ("gru", "lstm"))
    html = (out / "report.ko.html").read_text(encoding="utf-8")
    toc = html[html.index('<nav class="toc"'):html.index("</nav>")]
    assert '<a href="#notes-ko-1">5. 고찰</a>' in toc and '<a href="#notes-ko-2">6. 결론</a>' in toc
    assert f"BiGRU의 테스트 정확도는 {gru}였다. BiLSTM은 {lstm}였다." in html
    assert "<h2>5. 고찰</h2>" in html
    from pypdf import PdfReader

    text = "".join(page.extract_text() for page in PdfReader(out / "report.ko.pdf").pages)
    compact = text.replace(" ", "").replace("\n", "")
    assert "5.고찰" in compact and "6.결론" in compact
    assert f"BiGRU의테스트정확도는{gru}였다." in compact and "두번째문단" in compact
    assert "고찰" not in (out / "report.en.html").read_text(encoding="utf-8")


def test_interrupted_build_keeps_the_old_report_and_resumes(tmp_path):
    """Kill `build` while the second model trains: the previous report survives, the next build
    reuses the finished model and completes."""
    import os
    import signal
    import time

    out = tmp_path / "out"
    out.mkdir()
    previous = {"results.json": "{}", "report.ko.html": "old ko", "report.en.pdf": "old pdf"}
    for name, text in previous.items():
        (out / name).write_text(text)
    args = [sys.executable, "-m", "labreport", "build", "--quick", "--out", str(out), "--epochs", "1",
            "--max-length", "120"]
    process = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    seen = []
    deadline = time.time() + 600
    for line in process.stderr:
        seen.append(line)
        if line.startswith("training BiLSTM"):
            os.kill(process.pid, signal.SIGKILL)
            break
        assert time.time() < deadline
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "".join(seen)[-2000:]
    for name, text in previous.items():
        assert (out / name).read_text() == text

    result = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "reusing BiGRU" in result.stderr
    assert "training BiGRU" not in result.stderr and "training BiLSTM" in result.stderr
    record = load(out)
    assert list(record["models"]) == ["gru", "lstm"]
    assert (out / "report.en.pdf").read_bytes().startswith(b"%PDF")
    assert not (out / ".partial").exists()


def test_a_changed_setting_never_reuses_a_stale_model(tmp_path):
    """An interrupted run leaves a finished BiGRU behind; a run with another setting must train its own."""
    import os
    import signal

    out = tmp_path / "out"
    args = [sys.executable, "-m", "labreport", "train", "--out", str(out), *ARGS, "--models", "gru,lstm"]
    process = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    for line in process.stderr:
        if line.startswith("training BiLSTM"):
            os.kill(process.pid, signal.SIGKILL)
            break
    process.wait(timeout=60)
    left = [p.name for p in (out / ".partial").rglob("gru.keras")]
    assert left == ["gru.keras"]  # the stale model is there to be (wrongly) reused
    second = run_cli("train", "--out", str(out), *ARGS, "--models", "gru", "--hidden-units", "8")
    assert second.returncode == 0, second.stderr[-3000:]
    assert "reusing" not in second.stderr and "training BiGRU" in second.stderr
    assert load(out)["config"]["model"]["hidden_units"] == 8


def test_build_explains_the_shown_reviews_word_by_word(quick_build):
    out, result = quick_build
    record = load(out)
    assert "explaining BiGRU's decisions word by word" in result.stderr
    for entry in record["models"].values():
        a = entry["attributions"]
        shown = [(r["kind"], r["index"]) for r in a["reviews"]]
        assert shown[:len(entry["samples"])] == [("sample", s["index"]) for s in entry["samples"]]
        assert [i for k, i in shown if k == "disagreement"] == [d["index"] for d in record["analysis"]["disagreements"]]
        for review, sample in zip(a["reviews"], entry["samples"]):
            assert review["completeness_error"] < a["completeness_limit"]
            assert review["probability"] == pytest.approx(sample["probability"], abs=1e-5)  # f(x) is the record's p
        assert a["randomization"]["spearman"] < 0.95
    html = (out / "report.ko.html").read_text(encoding="utf-8")
    assert "판정을 이끈 단어" in html and 'class="w"' in html


def test_a_terminal_shows_a_moving_bar_and_quiet_shows_nothing(tmp_path):
    """Under a pseudo-terminal, training draws a per-batch line redrawn in place; --quiet prints nothing."""
    import os
    import pty

    leader, follower = pty.openpty()
    args = [sys.executable, "-m", "labreport", "train", "--out", str(tmp_path / "tty"), *ARGS, "--models", "gru",
            "--epochs", "1", "--no-attributions"]
    process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed: the process is done
            break
        if not chunk:
            break
        seen += chunk
    assert process.wait(timeout=600) == 0, seen.decode(errors="replace")[-2000:]
    text = seen.decode("utf-8", errors="replace")
    assert "\r  BiGRU epoch 1/1 [" in text and "batches, loss" in text  # redrawn in place
    assert "gru epoch 1/1: loss" in text  # the epoch line stays

    quiet = run_cli("train", "--quiet", "--out", str(tmp_path / "quiet"), *ARGS, "--models", "gru", "--epochs", "1",
                    "--no-attributions")
    assert quiet.returncode == 0
    assert "epoch" not in quiet.stderr and "training" not in quiet.stderr and quiet.stdout == ""


def test_a_full_disk_during_train_leaves_the_previous_run_byte_for_byte(tmp_path):
    """`train` under a 64 KB file-size limit (RLIMIT_FSIZE: a full disk, real for root too): one line,
    and every file of the previous run as it was."""
    import hashlib

    out = tmp_path / "out"
    previous = {"results.json": b'{"previous": true}', "predictions.npz": b"p", "models/gru.keras": b"m",
                "history/gru.csv": b"h", "report.ko.html": b"r", "notes.ko.md": b"# mine"}
    for name, data in previous.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)

    def hashes():
        return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in out.rglob("*") if p.is_file() and ".partial" not in p.parts and p.name != ".labreport.lock"}

    before = hashes()
    limit = ("import resource, signal, sys, runpy; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
             "resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536)); sys.argv = ['labreport'] + sys.argv[1:]; "
             "runpy.run_module('labreport', run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", limit, "train", "--out", str(out), *ARGS, "--epochs", "1",
                             "--models", "gru", "--no-attributions", "-q"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 2, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("labreport") or "Traceback" in line]
    assert len(lines) == 1 and lines[0].startswith("labreport: error: cannot write ") and "File too large" in lines[0], \
        result.stderr[-3000:]
    assert hashes() == before
    assert not (out / ".labreport-next").exists()
