"""Length-bucketed batches and the training loop that feeds them, against what the lab computes."""

import numpy as np
import pytest

from labreport.core.config import Config, DataConfig, ModelConfig, TrainConfig
from labreport.experiment import batches, encoding, train


def encoded(lengths, max_length, side="pre", seed=0) -> encoding.Encoded:
    """Reviews of the given lengths with distinct nonzero word indices, padded as `encoding.pad` does."""
    rng = np.random.default_rng(seed)
    sequences = [list(rng.integers(2, 50, size=n)) for n in lengths]
    x = encoding.pad(sequences, max_length, side)
    return encoding.Encoded(x=x, y=rng.integers(0, 2, size=len(lengths)).astype(np.int32),
                        lengths=np.asarray(lengths, dtype=np.int32), texts=[""] * len(lengths))


def config(bucketing=True, side="pre", max_length=40, batch_size=8, epochs=2, seed=3) -> Config:
    return Config(data=DataConfig(vocab_size=50, max_length=max_length, padding=side),
                  model=ModelConfig(embedding_dim=8, hidden_units=4),
                  train=TrainConfig(batch_size=batch_size, epochs=epochs, patience=5, seed=seed,
                                    bucketing=bucketing))


LENGTHS = [3, 40, 17, 9, 55, 1, 24, 33, 12, 8, 40, 2, 29, 31, 5, 19, 26, 11, 7, 38, 14]  # 55 > 40: cut


@pytest.mark.parametrize("side", ["pre", "post"])
def test_bucketed_batches_hold_every_review_once_with_only_padding_cut(side):
    cfg = config(side=side)
    split = encoded(LENGTHS, cfg.data.max_length, side)
    rows = {tuple(row): i for i, row in enumerate(split.x)}
    assert len(rows) == len(LENGTHS)
    seen = []
    for x, y in batches.training_batches(split, cfg, epoch=0):
        assert len(x) <= cfg.train.batch_size and len(x) == len(y)
        width = x.shape[1]
        assert width % batches.SHAPE_STEP == 0 or width == cfg.data.max_length
        for row, label in zip(x, y):
            # the full padded row is the batch row with zeros restored on the padding side
            zeros = np.zeros(cfg.data.max_length - width, dtype=row.dtype)
            full = np.concatenate([zeros, row] if side == "pre" else [row, zeros])
            i = rows[tuple(full)]
            assert label == split.y[i]
            assert width >= min(LENGTHS[i], cfg.data.max_length)
            seen.append(i)
    assert sorted(seen) == list(range(len(LENGTHS)))


def test_bucketing_narrows_batches_and_each_epoch_has_its_own_order():
    cfg = config()
    split = encoded(LENGTHS, cfg.data.max_length)
    widths = [x.shape[1] for x, _ in batches.training_batches(split, cfg, epoch=0)]
    assert min(widths) < cfg.data.max_length
    first = [x.tolist() for x, _ in batches.training_batches(split, cfg, epoch=0)]
    again = [x.tolist() for x, _ in batches.training_batches(split, cfg, epoch=0)]
    second = [x.tolist() for x, _ in batches.training_batches(split, cfg, epoch=1)]
    assert first == again and first != second


def test_without_bucketing_every_batch_is_the_labs_full_width():
    cfg = config(bucketing=False)
    split = encoded(LENGTHS, cfg.data.max_length)
    made = list(batches.training_batches(split, cfg, epoch=0))
    assert {x.shape[1] for x, _ in made} == {cfg.data.max_length}
    assert sum(len(x) for x, _ in made) == len(LENGTHS)


@pytest.mark.training
def test_fit_loop_trains_exactly_as_keras_fit():
    """`train.fit` (batches fed from Python) against `model.fit` on the same batches and seed."""
    import keras
    import tensorflow as tf

    from labreport.experiment import models
    cfg = config(epochs=3)
    split = encoded(LENGTHS * 3, cfg.data.max_length, seed=1)
    val_split = encoded(LENGTHS, cfg.data.max_length, seed=2)
    validation = [(x, val_split.y[idx].astype(np.float32))
                  for idx, x in batches.evaluation_batches(val_split.x, val_split.lengths, cfg)]

    def epoch_batches(epoch):
        return [(x, y) for x, y in batches.training_batches(split, cfg, epoch)]

    def fresh():
        keras.utils.set_random_seed(cfg.train.seed)
        return models.build_model("gru", cfg, sequence_length=None)

    mine = fresh()
    history = train.fit(mine, epoch_batches, validation, epochs=cfg.train.epochs, callbacks=[])

    theirs = fresh()
    signature = (tf.TensorSpec((None, None), tf.int32), tf.TensorSpec((None,), tf.float32))
    epochs = iter(range(cfg.train.epochs))
    cardinality = tf.data.experimental.assert_cardinality  # so that `fit` asks for one pass per epoch
    train_ds = tf.data.Dataset.from_generator(lambda: iter(epoch_batches(next(epochs))), output_signature=signature)
    train_ds = train_ds.apply(cardinality(len(epoch_batches(0))))
    val_ds = tf.data.Dataset.from_generator(lambda: iter(validation), output_signature=signature)
    val_ds = val_ds.apply(cardinality(len(validation)))
    reference = theirs.fit(train_ds, validation_data=val_ds, epochs=cfg.train.epochs, verbose=0).history

    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(history[key], reference[key], rtol=1e-5, atol=1e-6, err_msg=key)
    for a, b in zip(mine.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(mine.get_weights()[0], fresh().get_weights()[0])  # it did train


@pytest.mark.training
def test_fit_loop_stops_when_a_callback_says_so():
    import keras

    from labreport.experiment import models
    cfg = config(epochs=6)
    split = encoded(LENGTHS, cfg.data.max_length)
    validation = [(x, split.y[idx].astype(np.float32))
                  for idx, x in batches.evaluation_batches(split.x, split.lengths, cfg)]

    class StopAfterTwo(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            assert set(logs) == {"loss", "accuracy", "val_loss", "val_accuracy"}
            if epoch == 1:
                self.model.stop_training = True

    keras.utils.set_random_seed(cfg.train.seed)
    model = models.build_model("lstm", cfg, sequence_length=None)
    history = train.fit(model, lambda e: batches.training_batches(split, cfg, e), validation,
                        epochs=cfg.train.epochs, callbacks=[StopAfterTwo()])
    assert [len(v) for v in history.values()] == [2, 2, 2, 2]
