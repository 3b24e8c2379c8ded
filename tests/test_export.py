"""export_serving: a TensorFlow SavedModel that gives the same probabilities as the model directory."""

import json

import numpy as np
import pytest

from llmcourse import baselines, saving, text, vectors
from llmcourse.config import import_tensorflow
from llmcourse.deploy import export

tf = import_tensorflow()


@pytest.fixture(scope="module")
def exported(saved_quick_model, edge_cases, tmp_path_factory):
    model_dir, test_texts = saved_quick_model("bilstm", seed=2)
    out = tmp_path_factory.mktemp("export-out")
    version_dir = export.export_serving(model_dir, out)
    return model_dir, out, version_dir, test_texts[:60] + edge_cases


def test_layout_is_versioned_with_vocabulary_and_encoding(exported):
    model_dir, out, version_dir, _ = exported
    assert version_dir == out / "1"
    names = {p.name for p in version_dir.iterdir()}
    assert {"saved_model.pb", "variables", "vocabulary.json", "encoding.json"} <= names
    assert (version_dir / "vocabulary.json").read_bytes() == (model_dir / "vocabulary.json").read_bytes()
    enc = json.loads((version_dir / "encoding.json").read_text("utf-8"))
    saved = json.loads((model_dir / "config.json").read_text("utf-8"))
    assert enc["max_len"] == saved["encoder"]["max_len"]
    assert (enc["padding"], enc["pad_id"], enc["unk_id"]) == ("post", 0, 1)
    assert enc["signature"]["inputs"] == {"token_ids": {"dtype": "int32", "shape": [None, None]}}


def test_saved_model_gives_the_same_probabilities(exported):
    model_dir, _, version_dir, texts = exported
    model = saving.load_model(model_dir)
    ids = model.encoder.encode(texts)  # (样本数, max_len), right-padded
    reloaded = tf.saved_model.load(str(version_dir))
    signature = reloaded.signatures["serving_default"]
    assert set(signature.structured_outputs) == {"probabilities"}
    from_signature = signature(token_ids=tf.constant(ids, dtype=tf.int32))["probabilities"].numpy()
    from_endpoint = reloaded.serve(tf.constant(ids, dtype=tf.int32))["probabilities"].numpy()
    expected = model.predict_proba(texts)
    assert from_signature.shape == (len(texts),)
    np.testing.assert_allclose(from_signature, expected, rtol=0, atol=1e-5)
    np.testing.assert_allclose(from_endpoint, expected, rtol=0, atol=1e-5)


def test_words_signature_matches_with_stopwords_and_pre_truncation(exported, tmp_path):
    """serve_words takes segmented text; stopwords, lookup, truncation and padding happen in the graph."""
    model_dir, _, version_dir, texts = exported
    base = saving.load_model(model_dir)
    checks = [(base, version_dir)]
    encoder = vectors.TextEncoder(base.encoder.vocab, 12, text.load_stopwords(), truncating="pre")
    other = saving.SentimentModel(base.model, encoder, base.config)
    other.save(tmp_path / "m")
    checks.append((other, export.export_serving(tmp_path / "m", tmp_path / "out", version=3)))
    segmented = [" ".join(words) for words in text.tokenize_corpus(texts, None, use_cache=False, progress=False)]
    for model, directory in checks:
        reloaded = tf.saved_model.load(str(directory))
        got = reloaded.signatures["serve_words"](segmented_text=tf.constant(segmented))["probabilities"].numpy()
        np.testing.assert_allclose(got, model.predict_proba(texts), rtol=0, atol=1e-5)


def test_existing_version_is_not_overwritten(exported):
    model_dir, out, _, _ = exported
    with pytest.raises(FileExistsError, match="已存在"):
        export.export_serving(model_dir, out)


def test_baselines_cannot_be_exported(reviews, tmp_path):
    part = reviews.sample(200, seed=3)
    clf = baselines.TfidfClassifier("tfidf-char").fit(part.texts, part.labels)
    saving.BaselineModel(clf, {"kind": "tfidf-char"}).save(tmp_path / "m")
    with pytest.raises(saving.ModelLoadError, match="SavedModel"):
        export.export_serving(tmp_path / "m", tmp_path / "out")


def test_a_char_fallback_model_is_refused_naming_the_missing_step(exported, tmp_path):
    import shutil

    model_dir = tmp_path / "chars"
    shutil.copytree(exported[0], model_dir)
    vocabulary = json.loads((model_dir / saving.VOCAB_FILE).read_text("utf-8"))
    (model_dir / saving.VOCAB_FILE).write_text(json.dumps({**vocabulary, "char_fallback": True}), "utf-8")
    assert saving.load_model(model_dir).encoder.vocab.char_fallback  # the model itself loads and predicts
    with pytest.raises(saving.ModelLoadError, match="char_fallback"):
        export.export_serving(model_dir, tmp_path / "out")
    assert not (tmp_path / "out").exists()
