"""The command line: help, version, and one clear line for bad input, with nothing destroyed."""

import subprocess
import sys

import pytest

from labreport import __version__


def run_cli(*args, cwd=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "labreport", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


def test_help_lists_the_commands():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("build", "train", "render", "params", "predict", "notes", "site"):
        assert f"    {command} " in result.stdout


@pytest.mark.parametrize("command", ["build", "train", "render", "params", "predict", "notes", "site"])
def test_each_command_has_help(command):
    result = run_cli(command, "--help")
    assert result.returncode == 0 and "usage: labreport " + command in result.stdout


def test_version():
    assert run_cli("--version").stdout.strip() == f"labreport {__version__}"


def assert_one_line_error(result, *needles):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("labreport: error:")]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0]


def test_bad_config_value_is_one_line(tmp_path):
    assert_one_line_error(run_cli("params", "--hidden-units", "0", cwd=tmp_path), "model.hidden_units", "units=0")


def test_unknown_config_key_suggests(tmp_path):
    (tmp_path / "labreport.toml").write_text("[train]\nepoch = 3\n")
    assert_one_line_error(run_cli("params", cwd=tmp_path), "train.epoch", "epochs")


def test_missing_data_path_leaves_the_output_as_it_was(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.en.html").write_text("previous report")
    result = run_cli("train", "--data", str(tmp_path / "missing.tar.gz"), "--out", str(out))
    assert_one_line_error(result, "does not exist")
    assert [p.name for p in out.iterdir()] == ["report.en.html"]
    assert (out / "report.en.html").read_text() == "previous report"


def test_render_without_record(tmp_path):
    assert_one_line_error(run_cli("render", "--out", str(tmp_path)), "labreport train")


@pytest.mark.parametrize("flag, value, needle", [("--lang", "fr", "unknown language 'fr'"),
                                                 ("--format", "rtf", "unknown format 'rtf'")])
def test_render_unknown_language_or_format(tmp_path, flag, value, needle):
    assert_one_line_error(run_cli("render", "--out", str(tmp_path), flag, value), needle)


def test_build_checks_report_options_before_training(tmp_path):
    result = run_cli("build", "--quick", "--out", str(tmp_path), "--lang", "de")
    assert_one_line_error(result, "unknown language")
    assert not (tmp_path / "results.json").exists()


def test_unwritable_output_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert_one_line_error(run_cli("train", "--quick", "--out", str(blocker / "out")), "not writable")


def test_params_prints_the_labs_table():
    result = run_cli("params")
    assert result.returncode == 0
    assert "74,496" in result.stdout and "98,816" in result.stdout and "74,112" in result.stdout
    assert "MISMATCH" not in result.stdout


@pytest.mark.parametrize("command", ["train", "build", "params"])
def test_help_shows_the_configs_own_defaults(command):
    """Flags and their defaults come from the config's declaration, so --help cannot drift from it."""
    import re

    from labreport.core.config import cli_settings

    text = " ".join(run_cli(command, "--help").stdout.split())
    text = text[text.index("settings (override"):]  # the options' list, not the usage line
    for setting in cli_settings():
        assert setting.flag in text
        if setting.kind == "bool":
            assert setting.default is True
            continue
        shown = ",".join(setting.default) if isinstance(setting.default, tuple) else str(setting.default)
        after = text[text.index(setting.flag + " "):]
        cut = after.find(" --", 3)
        after = after[:cut] if cut > 0 else after
        assert re.search(r"\(" + re.escape(shown) + r"\)", after), (setting.flag, shown, after)


def test_every_setting_has_a_flag_that_reaches_the_config():
    from labreport import cli
    from labreport.core.config import cli_settings, load_config

    args = cli.build_parser().parse_args(["train", "--hidden-units", "8", "--models", "rnn,gru", "--no-bucketing",
                                          "--padding", "post", "--dropout", "0.25", "--no-fused",
                                          "--no-compiled"])
    config = load_config(None, cli.config_flags(args), cwd=__import__("pathlib").Path("/"))
    assert (config.model.hidden_units, config.model.models, config.train.bucketing) == (8, ("rnn", "gru"), False)
    assert (config.data.padding, config.model.dropout, config.train.fused, config.train.compiled) == ("post", 0.25, False, False)
    assert len(cli_settings()) == 19
