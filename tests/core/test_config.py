import pytest

from labreport import LabreportError
from labreport.core.config import Config, config_from_dict, load_config


def test_defaults_are_the_lab_settings(tmp_path):
    config = load_config(cwd=tmp_path)
    assert config.data.vocab_size == 10_000
    assert config.data.max_length == 300
    assert config.model.embedding_dim == 128
    assert config.model.hidden_units == 64
    assert config.model.dropout == 0.5
    assert config.model.models == ("gru", "lstm")
    assert config.train.batch_size == 64
    assert config.train.epochs == 10
    assert config.train.patience == 4
    assert config.train.validation_split == 0.2
    assert config.train.seed == 42


def test_file_overrides_defaults_and_flags_override_file(tmp_path):
    (tmp_path / "labreport.toml").write_text(
        '[model]\nhidden_units = 32\nembedding_dim = 16\n[report]\nname = "홍길동"\n', encoding="utf-8"
    )
    config = load_config(flags={"model": {"hidden_units": 8}}, cwd=tmp_path)
    assert config.model.hidden_units == 8
    assert config.model.embedding_dim == 16
    assert config.report.name == "홍길동"


def test_quick_applies_under_file_and_flags(tmp_path):
    config = load_config(quick=True, flags={"train": {"epochs": 1}}, cwd=tmp_path)
    assert config.data.max_length == 200
    assert config.train.epochs == 1


def test_unknown_key_suggests_the_closest(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[model]\nhiden_units = 3\n")
    with pytest.raises(LabreportError, match=r"unknown setting `model.hiden_units`.*did you mean `hidden_units`"):
        load_config(path)


def test_unknown_section(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[trian]\nepochs = 3\n")
    with pytest.raises(LabreportError, match=r"unknown section \[trian\].*train"):
        load_config(path)


def test_wrong_type_names_the_setting(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[train]\nepochs = "ten"\n')
    with pytest.raises(LabreportError, match=r"`train.epochs` must be a whole number, received: 'ten'"):
        load_config(path)


@pytest.mark.parametrize(
    "section, key, value, message",
    [
        ("model", "hidden_units", 0, "model.hidden_units"),
        ("model", "dropout", 1.0, "model.dropout"),
        ("model", "dropout", -0.1, "model.dropout"),
        ("train", "validation_split", 0.0, "train.validation_split"),
        ("train", "validation_split", 1.0, "train.validation_split"),
        ("data", "max_length", 0, "data.max_length"),
        ("data", "vocab_size", 1, "data.vocab_size"),
        ("train", "batch_size", 0, "train.batch_size"),
        ("train", "epochs", 0, "train.epochs"),
        ("model", "models", ["gru", "transformer"], "model.models"),
    ],
)
def test_out_of_range_values_are_refused(tmp_path, section, key, value, message):
    with pytest.raises(LabreportError, match=rf"invalid value for `{message}`.*received"):
        load_config(flags={section: {key: value}}, cwd=tmp_path)


def test_toml_syntax_error_gives_the_line(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[model]\nhidden_units = 3\nembedding_dim = = 4\n")
    with pytest.raises(LabreportError, match=r"TOML syntax error in .*line 3"):
        load_config(path)


def test_hash_ignores_the_cover_page_but_not_the_experiment():
    base = Config()
    cover = config_from_dict({**base.to_dict(), "report": {**base.to_dict()["report"], "name": "someone"}})
    assert cover.experiment_hash() == base.experiment_hash()
    other = config_from_dict({**base.to_dict(), "model": {**base.to_dict()["model"], "hidden_units": 32}})
    assert other.experiment_hash() != base.experiment_hash()


def test_round_trip_through_the_record():
    config = load_config(flags={"model": {"models": ["rnn", "lstm"]}})
    assert config_from_dict(config.to_dict()) == config


def test_no_attributions_flag_turns_them_off():
    from labreport import cli
    args = cli.build_parser().parse_args(["train", "--no-attributions"])
    assert cli.config_flags(args)["train"] == {"attributions": False}
    assert cli.config_flags(cli.build_parser().parse_args(["train"]))["train"] == {}


@pytest.mark.parametrize(
    "toml, message",
    [
        ("[train]\nlearning_rate = nan", r"`train.learning_rate`: expected a finite number in \(0, 10\].*received: learning_rate=nan"),
        ("[train]\nlearning_rate = inf", r"`train.learning_rate`.*received: learning_rate=inf"),
        ("[train]\nlearning_rate = -0.0", r"`train.learning_rate`.*received: learning_rate=-0.0"),
        ("[model]\ndropout = nan", r"`model.dropout`.*received: dropout=nan"),
        ("[train]\nvalidation_split = nan", r"`train.validation_split`.*received: validation_split=nan"),
        ("[train]\nseed = 4294967296", r"`train.seed`: expected a whole number from 0 to 4,294,967,295"),
        ("[train]\nseed = 4294967295\nseeds = 2", r"`train.seed`: expected at most 4,294,967,294 with seeds=2"),
        ("[train]\nseed = -1", r"`train.seed`"),
        ("[data]\nvocab_size = 9223372036854775807", r"`data.vocab_size`: expected a whole number from 2 to 1,000,000"),
        ("[data]\nmax_length = 0", r"`data.max_length`"),
        ("[train]\nepochs = 100000", r"`train.epochs`"),
        ("[train]\npatience = -1", r"`train.patience`"),
        ("[model]\nhidden_units = 100000", r"`model.hidden_units`"),
        ('[report]\nname = "a\\u0000b"', r"`report.name`: expected at most 500 characters of text without control"),
    ],
)
def test_values_tensorflow_or_json_would_refuse_are_refused_first(tmp_path, toml, message):
    path = tmp_path / "c.toml"
    path.write_text(toml + "\n")
    with pytest.raises(LabreportError, match=rf"Received an invalid value for {message}"):
        load_config(path)


def test_the_largest_accepted_seed_is_one_keras_takes():
    import keras

    from labreport.core.config import SEED_MAX

    keras.utils.set_random_seed(SEED_MAX)
    with pytest.raises(ValueError):
        keras.utils.set_random_seed(SEED_MAX + 1)


def test_a_model_too_large_for_memory_is_refused_with_the_estimate(tmp_path):
    from labreport.core.config import physical_memory_bytes

    flags = {"data": {"vocab_size": 1_000_000, "max_length": 10_000},
             "model": {"embedding_dim": 4096, "hidden_units": 4096}}
    assert physical_memory_bytes()
    with pytest.raises(LabreportError, match=r"model's size: training it needs at least [\d,.]+ GiB .* more than this "
                                             r"machine's [\d,.]+ GiB; received: vocab_size=1000000"):
        load_config(flags=flags, cwd=tmp_path)
    load_config(cwd=tmp_path)  # the lab's own sizes fit


def test_the_documentation_states_the_declared_ranges():
    """The table of ranges on the "Bad input" page is the declaration's own (labreport.core.settings.ranges_table):
    the page holds its marker, and the site's hook (scripts/docs_reference.py) fills it from the declaration."""
    import importlib.util
    from pathlib import Path

    from labreport.core.settings import ranges_table

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("docs_reference", root / "scripts" / "docs_reference.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    page = hook.generate((root / "docs" / "bad-input.md").read_text(encoding="utf-8"))
    assert ranges_table() in page, "docs/bad-input.md's settings table differs from labreport/core/settings.py"


def test_a_config_nested_past_any_configuration_is_one_line(tmp_path):
    path = tmp_path / "labreport.toml"
    path.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    with pytest.raises(LabreportError, match="nests its values too deeply"):
        load_config(path)
