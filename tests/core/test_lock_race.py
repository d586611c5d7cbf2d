"""One lock covers the whole command: a writer started at each checkpoint of a render, with the real lock.

The render runs in this process; at each of its checkpoints (the record read, the report rendered,
the staging folder begun) a real second process runs the swap `train` runs (lock, stage a new
record, commit). Every checkpoint of a render lies under its lock, so the writer stops with one line
each time and no record is lost; before the fix the writer committed at the first checkpoint and the
render wrote the old record back over the new one.
"""

import json
import subprocess
import sys

import pytest

from labreport.core import record as record_module
from labreport.core import staging
from labreport.report import files as report_files

WRITER = """
import json, sys
from pathlib import Path
from labreport.core import fileio, staging
out = Path(sys.argv[1])
record = json.loads((out / "results.json").read_text(encoding="utf-8"))
record["environment"]["command"] = "labreport train (the new run)"
with staging.locked(out, "labreport train"):
    stage = staging.begin(out)
    fileio.write_json(stage / "results.json", record)
    staging.commit(out, ("results.json",))
print("committed")
"""


def test_a_train_started_at_each_checkpoint_of_a_render_waits_its_turn_and_loses_nothing(record_dir, monkeypatch):
    answers = {}

    def checkpoint(name, real):
        def call(*args, **kwargs):
            if name not in answers:
                writer = subprocess.run([sys.executable, "-c", WRITER, str(record_dir)], capture_output=True,
                                        text=True, timeout=120)
                answers[name] = (writer.returncode, writer.stderr.strip().splitlines()[-1:] if writer.stderr else [])
            return real(*args, **kwargs)
        return call

    monkeypatch.setattr(report_files.record_module, "load_record", checkpoint("record read", record_module.load_record))
    monkeypatch.setattr(report_files, "render_record", checkpoint("rendered", report_files.render_record))
    monkeypatch.setattr(report_files, "_write_reports", checkpoint("staged", report_files._write_reports))
    report_files.render_all(record_dir, ["en"], ["html"], report={"name": "Kim", "student_id": "1"})
    monkeypatch.undo()
    assert set(answers) == {"record read", "rendered", "staged"}
    for name, (status, lines) in answers.items():
        assert status == 1 and lines and lines[0].endswith(
            f"LabreportError: {record_dir} is being written by another labreport (pid {__import__('os').getpid()}, "
            "labreport render); wait for it to finish, or use another --out"), (name, status, lines)
    after = json.loads((record_dir / "results.json").read_text(encoding="utf-8"))
    assert after["config"]["report"]["name"] == "Kim"
    # The writer's turn comes after the render's: its record is the one that stays.
    written = subprocess.run([sys.executable, "-c", WRITER, str(record_dir)], capture_output=True, text=True, timeout=120)
    assert written.stdout.strip() == "committed", written.stderr
    after = json.loads((record_dir / "results.json").read_text(encoding="utf-8"))
    assert after["environment"]["command"] == "labreport train (the new run)"
    assert after["config"]["report"]["name"] == "Kim"


def test_predict_refuses_while_a_writer_holds_the_lock(record_dir):
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom labreport.core import staging\n"
                               "with staging.locked(sys.argv[1], 'labreport train --quick'):\n"
                               "    print('held', flush=True); time.sleep(120)\n", str(record_dir)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(staging.LabreportError) as caught:
            with staging.reading(record_dir):
                pytest.fail("read while a writer holds the lock")
        assert str(caught.value) == (f"{record_dir} is being written by another labreport (pid {holder.pid}, "
                                     "labreport train --quick); wait for it to finish")
    finally:
        holder.kill()
        holder.wait()
    with staging.reading(record_dir):  # two readers, or a reader after the writer, read at once
        with staging.reading(record_dir):
            pass


@pytest.mark.training
def test_the_python_build_is_one_swap_a_failing_render_leaves_the_previous_run(tmp_path):
    """`labreport.build()` trains and renders into one staging folder: its render failing (here the
    notes file is a link, refused after training) leaves the previous record and reports byte for byte."""
    import labreport
    from tests.core.test_journal import everything
    from tests.core.test_replace import OLD, write_tree

    out = tmp_path / "out"
    write_tree(out, {**OLD, "report.en.html": b"old report", "figures/accuracy.en.svg": b"old figure"})
    (tmp_path / "elsewhere.md").write_text("# mine\n", encoding="utf-8")
    (out / "notes.en.md").symlink_to(tmp_path / "elsewhere.md")
    before = everything(tmp_path)
    with pytest.raises(labreport.LabreportError, match="notes.en.md is a link"):
        labreport.build(out, quick=True, lang="en", formats="html", progress=False)
    after = everything(tmp_path)
    kept = {name: value for name, value in after.items() if name.startswith("out/.partial")}  # the finished models, for a retry
    assert kept and after == {**before, **kept}
