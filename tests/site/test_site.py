"""`labreport site` on a class made of real tiny runs, an edited record, a quick run, a copy and broken folders."""

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

from labreport.core import stats as analysis
from labreport.site import publish as site
from tests.conftest import make_archive

TINY = ["--epochs", "1", "--max-length", "40", "--vocab-size", "60", "--embedding-dim", "4", "--hidden-units", "4"]


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "labreport", *args], capture_output=True, text=True, timeout=900, cwd=cwd)


def train(out, *args):
    result = run_cli("train", "--out", str(out), *args)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def load(out):
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


def save(out, record):
    (out / "results.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")


@pytest.fixture(scope="module")
def class_folder(tmp_path_factory):
    """Submissions as a course hands them out: one folder per student, some zipped, some broken."""
    root = tmp_path_factory.mktemp("class")
    data = make_archive(root / "aclImdb_tiny.tar.gz")
    subs = root / "submissions"
    subs.mkdir()
    a = train(subs / "alice", "--data", str(data), "--seed", "1", "--batch-size", "2", *TINY)
    b = train(subs / "bob", "--data", str(data), "--seed", "2", "--batch-size", "2", *TINY)
    c = train(subs / "carol", "--data", str(data), "--seed", "3", "--batch-size", "2", *TINY[:-1], "6")  # 6 hidden units
    d = train(subs / "dave", "--quick", "--seed", "4", *TINY)
    for out, student_id, name in ((a, "2024001", "앨리스"), (b, "2024002", "Bob"), (c, "2024003", '=HYPERLINK("x")<b>Carol</b>'),
                                  (d, "2024004", "Dave")):
        record = load(out)
        record["config"]["report"].update(student_id=student_id, name=name)
        save(out, record)
    # Eve hands in Alice's run under her own name.
    shutil.copytree(a, subs / "eve")
    record = load(subs / "eve")
    record["config"]["report"].update(student_id="2024005", name="Eve")
    save(subs / "eve", record)
    # Frank improves Bob's accuracy by hand, and uses Bob's student ID.
    shutil.copytree(b, subs / "frank")
    record = load(subs / "frank")
    record["models"]["gru"]["test"]["accuracy"] = 0.99
    record["config"]["report"].update(name="Frank")
    save(subs / "frank", record)
    # Broken submissions: a folder of other files, a damaged zip, an archive escaping its folder, a link out.
    (subs / "grace").mkdir()
    (subs / "grace" / "notes.txt").write_text("forgot the run")
    (subs / "heidi.zip").write_bytes(b"PK\x03\x04 not really a zip")
    with tarfile.open(subs / "ivan.tar.gz", "w:gz") as archive:
        payload = b"escape"
        info = tarfile.TarInfo("../../outside.txt")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    os.symlink(root, subs / "judy")
    # A zipped good run (what a submission system hands out).
    with zipfile.ZipFile(subs / "kim.zip", "w") as zipped:
        for path in d.rglob("*"):
            if path.is_file() and path.name in ("results.json", "predictions.npz"):
                zipped.write(path, f"kim/{path.relative_to(d)}")
    return root


@pytest.fixture(scope="module")
def built(class_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("web") / "site"
    result = run_cli("site", str(class_folder / "submissions"), "--out", str(out), "--pdf")
    assert result.returncode == 0, result.stderr[-3000:]
    return out, json.loads((out / "summary.json").read_text(encoding="utf-8"))


def flags_of(summary, run_id):
    row = next(r for r in summary["runs"] if r["id"] == run_id)
    return {f["check"]: f for f in row["flags"]}


pytestmark = pytest.mark.training


def test_every_flag_is_where_it_belongs(built):
    _, summary = built
    ids = [r["id"] for r in summary["runs"] if not r["problem"]]
    # A unique student ID names the run's folder; bob/frank and dave/kim share one, so they keep their own names.
    assert ids == ["2024001", "bob", "2024003", "dave", "2024005", "frank", "kim"]
    alice = flags_of(summary, "2024001")
    assert set(alice) == {"partial", "identical"} and alice["partial"]["train"] == 6
    assert flags_of(summary, "2024005")["identical"]["with"] == ["2024001"]
    carol = flags_of(summary, "2024003")
    assert carol["settings"]["settings"] == [{"setting": "model.hidden_units", "value": 6, "expected": 4}]
    dave = flags_of(summary, "dave")
    assert dave["quick"]["train"] == 2000 and dave["identical"]["with"] == ["kim"] and dave["same_id"]["with"] == ["kim"]
    assert dave["settings"]["settings"] == [{"setting": "train.batch_size", "value": 64, "expected": 2},
                                            {"setting": "train.patience", "value": 2, "expected": 4}]  # --quick's patience
    frank = flags_of(summary, "frank")
    assert frank["edited"]["fields"] == ["models.gru.test.accuracy"]
    assert frank["same_id"]["student_id"] == "2024002" and flags_of(summary, "bob")["same_id"]["with"] == ["frank"]
    assert "edited" not in flags_of(summary, "bob") and "settings" not in flags_of(summary, "bob")
    problems = {r["source"].rsplit("/", 1)[-1]: r["problem"] for r in summary["runs"] if r["problem"]}
    assert problems == {"grace": "no_record", "heidi.zip": "archive", "ivan.tar.gz": "archive", "judy": "link"}
    assert not (built[0].parent.parent / "outside.txt").exists()


def test_csv_numbers_come_from_the_records(built, class_folder):
    out, summary = built
    data = (out / "grades.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    by_source = {r["source"].rsplit("/", 1)[-1]: r for r in rows}
    for student in ("alice", "bob", "carol", "dave"):
        record = load(class_folder / "submissions" / student)
        row = by_source[student]
        assert float(row["gru_test_accuracy"]) == pytest.approx(record["models"]["gru"]["test"]["accuracy"])
        assert float(row["lstm_test_accuracy"]) == pytest.approx(record["models"]["lstm"]["test"]["accuracy"])
        assert int(row["gru_best_epoch"]) == record["models"]["gru"]["best_epoch"]
        assert int(row["train_reviews"]) == record["dataset"]["splits"]["train"]["total"] + record["dataset"]["splits"]["validation"]["total"]
    assert by_source["frank"]["gru_test_accuracy"] == "0.99" and "edited" in by_source["frank"]["checks"]
    assert by_source["carol"]["name"].startswith("'=HYPERLINK")  # neutralised: a spreadsheet shows it as text
    assert by_source["grace"]["checks"] == "unreadable"
    assert len(rows) == len(summary["runs"]) == 11


def test_the_pages_escape_names_and_link_every_report(built):
    out, summary = built
    for page in ("index.html", "index.en.html"):
        html = (out / page).read_text(encoding="utf-8")
        assert "&lt;b&gt;Carol&lt;/b&gt;" in html and "<b>Carol</b>" not in html
        assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "").replace(
            'xmlns:xlink="http://www.w3.org/1999/xlink"', "")
    html = (out / "index.en.html").read_text(encoding="utf-8")
    for r in summary["runs"]:
        if not r["problem"]:
            for name in ("report.ko.html", "report.ko.pdf", "report.en.html", "report.en.pdf"):
                assert (out / "runs" / r["id"] / name).stat().st_size > 0
                assert f'href="runs/{r["id"]}/{name}"' in html
    assert "The class as one experiment" in html and "paired sign-flip permutation test" in html


def test_the_class_experiment_counts_each_independent_run_once(built):
    _, summary = built
    experiment = summary["experiment"]
    # alice=eve and dave=kim are one run each; frank is edited: alice, bob, carol, dave remain.
    assert experiment["runs"] == 4
    pair = experiment["pair"]
    assert (pair["a"], pair["b"]) == ("gru", "lstm") and pair["runs"] == 4
    assert pair["a_wins"] + pair["b_wins"] + pair["ties"] == 4
    assert pair["p_value"] == pytest.approx(analysis.sign_flip_test(pair["differences"]))


def test_a_new_submission_renders_only_itself(built, class_folder, tmp_path):
    out, summary = built
    kept = out / "runs" / "2024001" / "report.ko.pdf"
    before = kept.stat().st_mtime_ns
    extra = tmp_path / "late"
    shutil.copytree(class_folder / "submissions" / "carol", extra / "leo")
    record = load(extra / "leo")
    record["config"]["report"].update(student_id="2024012", name="Leo")
    save(extra / "leo", record)
    result = run_cli("site", str(class_folder / "submissions"), str(extra), "--out", str(out), "--pdf")
    assert result.returncode == 0, result.stderr[-2000:]
    assert kept.stat().st_mtime_ns == before  # copied from the previous site, not rendered again
    assert (out / "runs" / "2024012" / "report.en.pdf").exists()


def test_bad_site_input_is_one_line_and_keeps_the_old_site(built, tmp_path):
    out, _ = built
    index = (out / "index.html").read_bytes()
    result = run_cli("site", str(tmp_path / "nowhere"), "--out", str(out))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("labreport: error:") == 1 and "run not found" in result.stderr
    assert (out / "index.html").read_bytes() == index
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_cli("site", str(out / "runs"), "--out", str(blocker / "site"))
    assert result.returncode == 2 and "not writable" in result.stderr and "Traceback" not in result.stderr


def test_an_assignment_file_names_every_setting_that_differs(class_folder, tmp_path):
    from labreport.site import checks
    from labreport.site import submissions as runs
    assignment = tmp_path / "assignment.toml"
    assignment.write_text("[model]\nhidden_units = 4\n[train]\nseed = 1\nbatch_size = 2\nepochs = 1\n", encoding="utf-8")
    expected = site.assignment_settings(assignment)
    assert expected["train.seed"] == 1 and expected["model.hidden_units"] == 4
    found = [run for run in runs.find([class_folder / "submissions" / name for name in ("alice", "bob", "carol")], tmp_path)]
    site.assign_ids(found)
    for run in found:
        checks.check_run(run)
    checks.check_class(found, expected)
    differing = {run.id: {s["setting"] for flag in run.flags if flag.check == "settings" for s in flag.details["settings"]}
                 for run in found}
    # The assignment keeps the lab's defaults for what it does not set (vocabulary 10,000, length 300, ...).
    common = {"data.vocab_size", "data.max_length", "model.embedding_dim"}
    assert differing["2024001"] == common
    assert differing["2024002"] == common | {"train.seed"}
    assert differing["2024003"] == common | {"train.seed", "model.hidden_units"}
