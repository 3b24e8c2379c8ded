"""Model builders and the two training paths, on real reviews."""

import dataclasses
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from llmcourse import config, models, pipeline, reference, registry, saving, training


@pytest.fixture(scope="module")
def prepared(reviews):
    """About 1,200 real reviews, segmented, with Word2Vec embeddings (quick-sized model)."""
    sizes = dataclasses.replace(
        config.sizes("quick"),
        max_reviews=1200,
        max_len=64,
        epochs=2,
        extra_w2v_sentences=200,
        batch_size=16,
        embedding_dim=64,
        hidden_units=32,
    )
    return pipeline.prepare(reviews, sizes, seed=3, progress=False)


@pytest.mark.parametrize("kind", registry.NEURAL_KINDS)
def test_every_builder_outputs_one_logit_per_sentence(kind):
    model = models.build_classifier(kind, vocab_size=50, embedding=8, hidden_units=4)
    x = np.array([[5, 6, 7, 0, 0], [8, 9, 0, 0, 0]], dtype=np.int32)
    out = model(x)
    assert tuple(out.shape) == (2, 1)


@pytest.mark.parametrize("kind", registry.NEURAL_KINDS)
@pytest.mark.parametrize("pooling", models.POOLINGS)
def test_padding_is_masked(kind, pooling):
    """Extra right padding must not change the prediction."""
    model = models.build_classifier(kind, vocab_size=50, embedding=8, hidden_units=4, pooling=pooling)
    short = np.array([[5, 6, 7]], dtype=np.int32)
    padded = np.array([[5, 6, 7, 0, 0, 0, 0]], dtype=np.int32)
    np.testing.assert_allclose(model(short).numpy(), model(padded).numpy(), atol=1e-6)


def test_lstm_keeps_cudnn_conditions():
    model = models.build_classifier("lstm", vocab_size=50, embedding=8, hidden_units=4)
    cfg = model.get_layer("lstm").get_config()
    assert cfg["activation"] == "tanh" and cfg["recurrent_activation"] == "sigmoid"
    assert cfg["recurrent_dropout"] == 0 and cfg["unroll"] is False and cfg["use_bias"] is True
    assert cfg.get("use_cudnn", "auto") in ("auto", True)
    assert model.get_layer("embedding").get_config()["mask_zero"] is True


def test_embedding_matrix_is_loaded(prepared):
    model = models.build_classifier("lstm", len(prepared.vocab), prepared.embedding, hidden_units=4)
    np.testing.assert_array_equal(model.get_layer("embedding").get_weights()[0], prepared.embedding)
    with pytest.raises(ValueError, match="形状"):
        models.build_classifier("lstm", len(prepared.vocab) + 1, prepared.embedding)


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError, match="未知的.*'cnn'"):
        models.build_classifier("cnn", vocab_size=10)
    with pytest.raises(ValueError, match="池化"):
        models.build_classifier("lstm", vocab_size=10, pooling="sum")


def test_length_grouped_batches_cover_every_row_once():
    lengths = np.random.default_rng(0).integers(1, 100, size=1000)
    batches = training.length_grouped_batches(lengths, 64, np.random.default_rng(1))
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    assert len(batches) == 16
    spread = np.mean([lengths[b].max() - lengths[b].min() for b in batches])
    assert spread < 20  # batches hold reviews of similar length


def test_dataset_pads_each_batch_to_its_longest_row(prepared):
    ds = training.make_dataset(prepared.x["train"], prepared.y["train"], batch_size=32)
    widths = []
    for x, _y in ds:
        lengths = (x.numpy() != 0).sum(axis=1)
        assert x.shape[1] == lengths.max()  # no all-padding column
        widths.append(x.shape[1])
    assert len(set(widths)) > 1


def test_dataset_runs_without_autotuning_and_keeps_its_batches(prepared):
    # autotuning's per-iterator thread made releasing an iterator (every epoch) stall for seconds
    def dataset():
        return training.make_dataset(prepared.x["val"], prepared.y["val"], batch_size=32, seed=3)

    plain = dataset()
    assert plain.options().autotune.enabled is False
    tuned_options = training.tf.data.Options()
    tuned_options.autotune.enabled = True
    tuned = dataset().with_options(tuned_options)
    assert tuned.options().autotune.enabled is True
    for _epoch in range(2):  # the same seeded batches either way, a new order each epoch
        for (xa, ya), (xb, yb) in zip(plain, tuned, strict=True):
            np.testing.assert_array_equal(xa.numpy(), xb.numpy())
            np.testing.assert_array_equal(ya.numpy(), yb.numpy())


def test_lstm_trained_on_1000_reviews_beats_chance(prepared):
    # With only ~60 steps per epoch, Adam needs a larger step than its default 1e-3.
    trained = pipeline.train_neural(prepared, "lstm", epochs=2, learning_rate=5e-3, verbose=0)
    assert len(prepared.splits.train) > 900
    assert trained.test.accuracy > 0.6 and trained.test.roc_auc > 0.65
    assert trained.history["loss"][-1] < trained.history["loss"][0]


def test_gradient_tape_loop_agrees_with_fit(prepared):
    build = models.builder(
        "lstm", vocab_size=len(prepared.vocab), embedding=prepared.embedding, hidden_units=8, dropout=0.2
    )
    args = (prepared.x["train"], prepared.y["train"], prepared.x["val"], prepared.y["val"])
    common = dict(epochs=2, patience=5, seed=5, learning_rate=5e-3, batch_size=16)
    fit = training.train_keras(build, *args, verbose=0, **common)
    loop = training.train_custom_loop(build, *args, verbose=False, **common)
    assert len(fit.history["val_accuracy"]) == len(loop.history["val_accuracy"]) == 2
    assert abs(fit.best_val_accuracy - loop.best_val_accuracy) <= 0.01
    assert loop.best_val_accuracy > 0.6


def test_probabilities_are_the_one_sigmoid_of_the_logits(prepared):
    model = models.build_classifier("mean", len(prepared.vocab), prepared.embedding, hidden_units=4)
    x = prepared.x["test"][:20]
    np.testing.assert_array_equal(
        training.predict_proba(model, x), reference.sigmoid(training.predict_logits(model, x))
    )


def test_custom_loop_stops_early_and_keeps_the_best_epoch(prepared):
    """patience=1: stop after the first epoch without a better validation accuracy, holding the best weights."""
    build = models.builder("mean", vocab_size=len(prepared.vocab), embedding=prepared.embedding, hidden_units=4)
    args = (prepared.x["train"], prepared.y["train"], prepared.x["val"], prepared.y["val"])
    run = training.train_custom_loop(
        build, *args, epochs=6, patience=1, seed=1, learning_rate=0.05, batch_size=64, verbose=False
    )
    val = run.history["val_accuracy"]
    assert list(run.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert len(run.epoch_seconds) == len(val) and run.best_epoch == int(np.argmax(val)) + 1
    if len(val) < 6:  # stopped early: the last epoch was no better than the one before it
        assert val[-1] <= max(val[:-1])
    held = np.mean((training.predict_logits(run.model, prepared.x["val"]) > 0) == (prepared.y["val"] > 0.5))
    assert held == pytest.approx(run.best_val_accuracy)


def test_ensemble_logit_is_the_mean_of_its_members(prepared):
    members = [
        models.build_classifier("lstm", len(prepared.vocab), prepared.embedding, hidden_units=8, pooling="mean")
        for _ in range(3)
    ]
    ensemble = models.build_ensemble(members)
    x = prepared.x["test"][:32]
    want = np.mean([training.predict_logits(m, x) for m in members], axis=0)
    np.testing.assert_allclose(training.predict_logits(ensemble, x), want, atol=1e-5)
    assert ensemble.count_params() == sum(m.count_params() for m in members)
    with pytest.raises(ValueError, match="至少需要一个模型"):
        models.build_ensemble([])
    with pytest.raises(ValueError, match="正整数"):
        pipeline.train_neural(prepared, "lstm", ensemble=0, verbose=0)


def test_same_seed_gives_same_metrics(prepared):
    a = pipeline.train_neural(prepared, "gru", epochs=1, verbose=0)
    b = pipeline.train_neural(prepared, "gru", epochs=1, verbose=0)
    assert a.test.as_dict() == b.test.as_dict()


MIRRORED = textwrap.dedent("""
    import dataclasses
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from llmcourse import config, data, pipeline
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    sizes = dataclasses.replace(config.sizes("quick"), max_reviews=400, extra_w2v_sentences=0)
    prepared = pipeline.prepare(data.load_reviews(), sizes, progress=False)
    trained = pipeline.train_neural(prepared, "lstm", epochs=1, strategy=strategy, verbose=0)
    print("replicas", strategy.num_replicas_in_sync, "accuracy", trained.test.accuracy)
    pair = pipeline.train_neural(prepared, "lstm", epochs=1, strategy=strategy, verbose=0, ensemble=2)
    print("ensemble members", len(pair.members), "accuracy", pair.test.accuracy)
""")


def test_mirrored_strategy_on_two_logical_cpus():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-c", MIRRORED], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "replicas 2 accuracy" in out.stdout and "ensemble members 2 accuracy" in out.stdout


def test_length_balanced_weights_leave_length_no_label_to_predict(prepared):
    x, y = prepared.x["train"], prepared.y["train"]
    weights = training.length_balanced_weights(x, y, bins=4)
    assert weights.shape == y.shape and weights.dtype == np.float32
    assert weights.mean() == pytest.approx(1.0) and weights.min() > 0
    lengths = training.sequence_lengths(x)
    edges = np.quantile(lengths, [0.25, 0.5, 0.75])
    which = np.searchsorted(edges, lengths, side="right")
    for b in range(4):
        in_bin = which == b
        share = weights[in_bin & (y == 1)].sum() / weights[in_bin].sum()
        assert share == pytest.approx(0.5)  # weighted, each length bin is half positive
    one_label = training.length_balanced_weights(x[y == 1], y[y == 1], bins=4)
    np.testing.assert_allclose(one_label, 1.0)  # nothing to balance
    with pytest.raises(ValueError, match="分箱数"):
        training.length_balanced_weights(x, y, bins=0)
    with pytest.raises(ValueError, match="一样多"):
        training.length_balanced_weights(x, y[:-1])


def test_weighted_batches_carry_their_weights(prepared):
    x, y = prepared.x["val"], prepared.y["val"]
    weights = np.arange(len(y), dtype=np.float32)
    for xb, yb, wb in training.make_dataset(x, y, batch_size=32, seed=3, weights=weights):
        rows = wb.numpy().astype(int)  # the weight of row i is i: it names the row
        np.testing.assert_array_equal(yb.numpy(), y[rows])
        np.testing.assert_array_equal(xb.numpy(), x[rows, : xb.shape[1]])
    with pytest.raises(ValueError, match="样本权重"):
        training.make_dataset(x, None, weights=weights)


def test_length_balanced_training_is_recorded_and_changes_the_model(prepared):
    common = dict(epochs=2, learning_rate=5e-3, hidden_units=16, seed=4, verbose=0)
    plain = pipeline.train_neural(prepared, "lstm", **common)
    balanced = pipeline.train_neural(prepared, "lstm", length_balance=True, **common)
    assert balanced.model.config["training"]["length_balance"] is True
    assert plain.model.config["training"]["length_balance"] is False
    assert not np.allclose(plain.test_probabilities, balanced.test_probabilities)
    assert balanced.test.accuracy > 0.6 and balanced.test.roc_auc > 0.65


def test_char_fallback_changes_only_the_encoding_of_unseen_words(prepared, tmp_path):
    chars = pipeline.with_char_fallback(prepared)
    assert chars.tokens is prepared.tokens and chars.word2vec is prepared.word2vec
    added = set(chars.vocab.index_to_word) - set(prepared.vocab.index_to_word)
    # at max_size the characters take the places of the rarest words
    assert chars.vocab.char_fallback and len(chars.vocab) == len(prepared.vocab)
    assert added and all(len(c) == 1 for c in added)
    kept = min(chars.vocab.word_to_index[c] for c in added)  # the words before it keep their ids
    assert chars.vocab.index_to_word[:kept] == prepared.vocab.index_to_word[:kept]
    known = ~(prepared.x["train"] == 1).any(axis=1) & (prepared.x["train"] < kept).all(axis=1)
    assert 0 < known.sum() < len(known)  # rows whose every word is still in the vocabulary
    width = prepared.x["train"].shape[1]
    np.testing.assert_array_equal(chars.x["train"][known, :width], prepared.x["train"][known])
    assert (chars.x["test"] == 1).sum() < (prepared.x["test"] == 1).sum()  # fewer unknown ids
    trained = pipeline.train_neural(chars, "lstm", epochs=1, hidden_units=8, seed=4, verbose=0)
    trained.model.save(tmp_path / "model")
    loaded = saving.load_model(tmp_path / "model")
    assert loaded.encoder.vocab.char_fallback
    texts = ["这款笔记本的散热模组很给力", *chars.splits.test.texts[:20]]
    np.testing.assert_allclose(loaded.predict_proba(texts), trained.model.predict_proba(texts), atol=1e-6)
