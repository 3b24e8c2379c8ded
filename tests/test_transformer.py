"""The Transformer encoder classifier (kind "transformer"), chapter 8."""

import dataclasses

import keras
import numpy as np
import pytest

from llmcourse import config, models, pipeline, registry, saving


def small_model(**kwargs):
    return models.build_classifier("transformer", vocab_size=50, embedding=8, hidden_units=8, **kwargs)


def test_kind_is_registered_everywhere():
    assert "transformer" in registry.NEURAL_KINDS
    assert registry.model_kind("transformer", registry.NEURAL).name


def test_pooling_argument_does_not_change_the_model():
    shapes = {p: [w.shape for w in small_model(pooling=p).weights] for p in models.POOLINGS}
    assert len({str(s) for s in shapes.values()}) == 1
    names = [layer.name for layer in small_model().layers]
    assert "masked_mean_states" in names and "position_embedding" in names


def test_word_order_matters():
    """Position embeddings make the model see order: a reversed sentence gets another logit."""
    keras.utils.set_random_seed(0)
    model = small_model()
    forward = model(np.array([[5, 6, 7, 8]], dtype=np.int32)).numpy()
    backward = model(np.array([[8, 7, 6, 5]], dtype=np.int32)).numpy()
    assert not np.allclose(forward, backward, atol=1e-6)


def test_padding_in_a_batch_does_not_change_a_sentence():
    """A short sentence padded next to a long one gets the logit it gets alone."""
    keras.utils.set_random_seed(1)
    model = small_model()
    alone = model(np.array([[5, 6, 7]], dtype=np.int32)).numpy()
    batch = model(np.array([[5, 6, 7, 0, 0, 0], [9, 10, 11, 12, 13, 14]], dtype=np.int32)).numpy()
    np.testing.assert_allclose(alone[0], batch[0], atol=1e-6)


def test_word2vec_matrix_is_loaded():
    matrix = np.random.default_rng(0).normal(size=(50, 12)).astype(np.float32)
    model = models.build_classifier("transformer", vocab_size=50, embedding=matrix, hidden_units=8)
    np.testing.assert_array_equal(model.get_layer("embedding").get_weights()[0], matrix)


def test_saved_model_loads_in_safe_mode(tmp_path):
    keras.utils.set_random_seed(2)
    model = small_model()
    x = np.array([[5, 6, 7, 0], [8, 9, 10, 11]], dtype=np.int32)
    path = tmp_path / "transformer.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False, safe_mode=True)
    np.testing.assert_allclose(model(x).numpy(), loaded(x).numpy(), atol=1e-6)


@pytest.fixture(scope="module")
def prepared(reviews):
    sizes = dataclasses.replace(
        config.sizes("quick"),
        max_reviews=1200,
        max_len=64,
        epochs=2,
        extra_w2v_sentences=0,
        batch_size=16,
        embedding_dim=32,
        hidden_units=16,
    )
    return pipeline.prepare(reviews, sizes, seed=3, progress=False)


def test_transformer_learns_real_reviews_and_round_trips(prepared, tmp_path):
    trained = pipeline.train_neural(prepared, "transformer", epochs=2, learning_rate=2e-3, verbose=0)
    assert trained.name == registry.KINDS["transformer"].name
    assert trained.test.accuracy > 0.6 and trained.test.roc_auc > 0.65
    texts = ["房间很干净，服务也好", "太差了，再也不来了"]
    directory = trained.model.save(tmp_path / "model")
    loaded = saving.load_model(directory)
    np.testing.assert_allclose(loaded.predict_proba(texts), trained.model.predict_proba(texts), atol=1e-6)
