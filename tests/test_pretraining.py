"""Language-model pretraining of the recurrent encoder, on real reviews."""

import dataclasses

import numpy as np
import pytest

from llmcourse import config, models, pipeline, pretraining, saving


@pytest.fixture(scope="module")
def prepared(reviews):
    """About 1,000 real reviews, segmented, with Word2Vec embeddings (small model sizes)."""
    sizes = dataclasses.replace(
        config.sizes("quick"),
        max_reviews=1000,
        max_len=64,
        epochs=2,
        extra_w2v_sentences=200,
        batch_size=16,
        embedding_dim=32,
        hidden_units=16,
    )
    return pipeline.prepare(reviews, sizes, seed=5, progress=False)


@pytest.fixture(scope="module")
def encoder(prepared):
    return pretraining.pretrain_encoder(
        prepared.x["train"],
        prepared.embedding,
        "bilstm",
        hidden_units=16,
        epochs=3,
        batch_size=16,
        heldout_ids=prepared.x["val"],
        seed=5,
        verbose=False,
    )


def test_language_model_learns_both_directions(encoder, prepared):
    assert set(encoder.loss) == {"forward", "backward"}
    for direction in ("forward", "backward"):
        loss, ppl = encoder.loss[direction], encoder.heldout_perplexity[direction]
        assert len(loss) == len(ppl) == 3
        assert loss[-1] < loss[0]
        assert ppl[-1] < ppl[0]
        # far better than guessing uniformly among the vocabulary
        assert ppl[-1] < len(prepared.vocab) / 4
    assert encoder.embedding.shape == prepared.embedding.shape
    assert not np.allclose(encoder.embedding, prepared.embedding)  # the embedding was trained too


def test_weights_go_into_the_classifier(encoder, prepared):
    model = models.build_classifier(
        "bilstm", len(prepared.vocab), prepared.embedding, hidden_units=16, pooling="mean", word_dropout=0.2
    )
    encoder.apply(model)
    np.testing.assert_array_equal(model.get_layer("embedding").get_weights()[0], encoder.embedding)
    for got, want in zip(model.get_layer("bilstm").get_weights(), encoder.recurrent_weights):
        np.testing.assert_array_equal(got, want)
    wrong_width = models.build_classifier("bilstm", len(prepared.vocab), 8, hidden_units=16)
    with pytest.raises(ValueError, match="形状不一致"):
        encoder.apply(wrong_width)


def test_forward_only_kinds_and_rejected_kinds(prepared):
    lstm = pretraining.pretrain_encoder(
        prepared.x["train"][:200], prepared.embedding, "lstm", hidden_units=8, epochs=1, batch_size=16, verbose=False
    )
    assert set(lstm.loss) == {"forward"}
    model = models.build_classifier("lstm", len(prepared.vocab), prepared.embedding, hidden_units=8)
    lstm.apply(model)
    with pytest.raises(ValueError, match="循环网络"):
        pretraining.pretrain_encoder(prepared.x["train"], prepared.embedding, "transformer", verbose=False)
    with pytest.raises(ValueError, match="至少为 1"):
        pretraining.pretrain_encoder(prepared.x["train"], prepared.embedding, "lstm", epochs=0, verbose=False)


def test_pretrained_recipe_trains_saves_and_loads(prepared, tmp_path):
    trained = pipeline.train(prepared, "bilstm", "averaged", learning_rate=5e-3, verbose=0, pretrain_epochs=2, epochs=2)
    assert trained.pretraining is not None and "预训练" in trained.name
    assert trained.train_seconds > trained.pretraining.seconds > 0
    assert trained.test.roc_auc > 0.7  # ranks held-out reviews far better than chance (0.5)
    summary = trained.model.config["training"]["language_model_pretraining"]
    assert summary["epochs"] == 2 and len(summary["heldout_perplexity"]["forward"]) == 2
    # the "averaged" recipe fine-tunes `sizes.ensemble` copies of the pretrained encoder and averages their logits
    n = prepared.sizes.ensemble
    assert n >= 2 and f"{n} 次微调平均" in trained.name and len(trained.members) == n
    assert [m["seed"] for m in trained.members] == [prepared.seed + pipeline.ENSEMBLE_SEED_STEP * k for k in range(n)]
    assert len(trained.epoch_seconds) == sum(m["epochs_run"] for m in trained.members)
    assert trained.parameters == n * trained.model.model.get_layer("member_1").count_params()
    assert trained.model.config["training"]["ensemble_members"] == trained.members
    loaded = saving.load_model(trained.model.save(tmp_path / "model"))  # safe mode, word dropout included
    texts = list(prepared.splits.test.texts[:20])
    np.testing.assert_allclose(loaded.predict_proba(texts), trained.model.predict_proba(texts), atol=1e-6)
    with pytest.raises(ValueError, match="不能做语言模型预训练"):
        pipeline.train_neural(prepared, "mean", pretrain_epochs=1, verbose=0)


def test_trained_model_cache_returns_the_same_result(prepared, tmp_path, monkeypatch):
    monkeypatch.setenv("LLMCOURSE_CACHE_DIR", str(tmp_path))
    first = pipeline.train_neural(
        prepared, "bilstm", epochs=1, verbose=0, cache=True, pretrain_epochs=1, word_dropout=0.2
    )
    again = pipeline.train_neural(
        prepared, "bilstm", epochs=1, verbose=0, cache=True, pretrain_epochs=1, word_dropout=0.2
    )
    assert not first.from_cache and again.from_cache
    assert again.test.as_dict() == first.test.as_dict() and again.name == first.name
    assert again.pretraining.heldout_perplexity == first.pretraining.heldout_perplexity
    assert first.members is None and again.members is None  # a single model, no ensemble
    np.testing.assert_allclose(again.test_probabilities, first.test_probabilities, atol=1e-6)
    texts = list(prepared.splits.test.texts[:10])
    np.testing.assert_allclose(again.model.predict_proba(texts), first.model.predict_proba(texts), atol=1e-6)
    other = pipeline.train_neural(prepared, "bilstm", epochs=1, verbose=0, cache=True, pretrain_epochs=1)
    assert not other.from_cache  # a different setting (no word dropout) is trained, not looked up
    base = [pipeline.train_baseline(prepared, "tfidf-char", cache=True) for _ in range(2)]
    assert [b.from_cache for b in base] == [False, True]
    assert base[1].test.as_dict() == base[0].test.as_dict()
    assert len(list((tmp_path / "models").iterdir())) == 3
    pair = [pipeline.train_neural(prepared, "mean", epochs=1, verbose=0, cache=True, ensemble=2) for _ in range(2)]
    assert [p.from_cache for p in pair] == [False, True] and pair[1].members == pair[0].members
    assert len(pair[0].members) == 2 and "2 个模型平均" in pair[1].name


def test_extra_unlabelled_text_is_read_by_the_language_model(prepared):
    sentences = pipeline.extra_sentences(dataclasses.replace(prepared.sizes, extra_w2v_sentences=150))
    assert len(sentences) == 150
    extra = prepared.encoder.encode_tokens(sentences)
    kwargs = dict(
        kind="lstm", hidden_units=8, epochs=1, batch_size=16, heldout_ids=prepared.x["val"], seed=5, verbose=False
    )
    alone = pretraining.pretrain_encoder(prepared.x["train"][:200], prepared.embedding, **kwargs)
    more = pretraining.pretrain_encoder(
        prepared.x["train"][:200], prepared.embedding, extra_ids=extra[:, :40], **kwargs
    )
    assert more.epoch_seconds and alone.epoch_seconds
    assert not np.allclose(more.recurrent_weights[0], alone.recurrent_weights[0])
    trained = pipeline.train_neural(prepared, "lstm", epochs=1, verbose=0, pretrain_epochs=1, pretrain_extra_text=True)
    assert trained.pretraining is not None and trained.test.n == len(prepared.splits.test)
