"""`labreport site --init-assignment FILE`: the lab's own settings as a starting assignment file."""

import subprocess
import sys

from labreport.core.config import Config
from labreport.site import checks
from labreport.site import publish as site


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "labreport", *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_the_starter_holds_the_labs_settings_and_is_read_back_as_an_assignment(tmp_path):
    path = tmp_path / "assignment.toml"
    result = run_cli("site", "--init-assignment", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(path)
    lab = checks.settings({"config": Config().to_dict()})
    assert site.assignment_settings(path) == {key: value for key, value in lab.items() if key not in checks.FREE_SETTINGS}
    text = path.read_text(encoding="utf-8")
    assert "\n# seed = 42\n" in text and "\nhidden_units = 64\n" in text  # a student's own seed is left to them
    edited = text.replace("\nhidden_units = 64\n", "\nhidden_units = 32\n").replace("\n# seed = 42\n", "\nseed = 7\n")
    path.write_text(edited, encoding="utf-8")
    expected = site.assignment_settings(path)
    assert expected["model.hidden_units"] == 32 and expected["train.seed"] == 7


def test_an_existing_file_is_never_overwritten(tmp_path):
    path = tmp_path / "assignment.toml"
    path.write_text("mine", encoding="utf-8")
    result = run_cli("site", "--init-assignment", str(path))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "already exists" in result.stderr
    assert path.read_text(encoding="utf-8") == "mine"


def test_site_without_runs_says_what_it_needs(tmp_path):
    result = run_cli("site", "--out", str(tmp_path / "site"))
    assert result.returncode != 0 and "Traceback" not in result.stderr and "--init-assignment" in result.stderr
