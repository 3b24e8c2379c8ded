"""Vocabulary, padding, Word2Vec and the embedding matrix on real segmented reviews."""

import os
import subprocess
import sys

import numpy as np
import pytest

from llmcourse import text, vectors


@pytest.fixture(scope="module")
def tokens(small_reviews):
    return text.segment_corpus(small_reviews.texts, use_cache=False, progress=False)


def test_vocabulary_special_ids_and_order(tokens):
    vocab = vectors.Vocabulary.build(tokens, min_count=2, max_size=500)
    assert len(vocab) == 500
    assert vocab.index_to_word[:2] == ["<pad>", "<unk>"]
    counts = [vocab.counts[w] for w in vocab.index_to_word[2:]]
    assert counts == sorted(counts, reverse=True) and min(counts) >= 2
    assert vocab.encode(["，", "绝对没有这个词"])[1] == vectors.UNK_ID


def test_vocabulary_round_trip(tmp_path, tokens):
    vocab = vectors.Vocabulary.build(tokens, min_count=1)
    vocab.save(tmp_path / "vocab.json")
    loaded = vectors.Vocabulary.load(tmp_path / "vocab.json")
    assert loaded == vocab and loaded.counts == vocab.counts
    sample = tokens[0]
    assert loaded.encode(sample) == vocab.encode(sample)
    assert loaded.decode(vocab.encode(sample)) == sample


def test_padding_is_post_and_truncates():
    out = vectors.pad_sequences([[5, 6, 7], [8], [1, 2, 3, 4, 5, 6]], max_len=4)
    assert out.dtype == np.int32 and out.shape == (3, 4)
    assert out.tolist() == [[5, 6, 7, 0], [8, 0, 0, 0], [1, 2, 3, 4]]
    assert vectors.pad_sequences([[1, 2, 3, 4, 5, 6]], 4, truncating="pre").tolist() == [[3, 4, 5, 6]]


def test_encode_corpus_shape(tokens):
    vocab = vectors.Vocabulary.build(tokens)
    ids = vectors.encode_corpus(vocab, tokens, max_len=32)
    assert ids.shape == (len(tokens), 32)
    lengths = (ids != 0).sum(axis=1)
    assert np.array_equal(lengths, np.minimum([len(t) for t in tokens], 32))


def test_embedding_rows_equal_word2vec_vectors(tokens):
    model = vectors.train_word2vec(tokens, vector_size=24, epochs=2, min_count=2)
    vocab = vectors.Vocabulary.build(tokens, min_count=1)
    matrix = vectors.embedding_matrix(vocab, model)
    assert matrix.shape == (len(vocab), 24) and matrix.dtype == np.float32
    assert not matrix[vectors.PAD_ID].any()
    checked = 0
    for i, word in enumerate(vocab.index_to_word[2:], start=2):
        if word in model.wv.key_to_index:
            np.testing.assert_array_equal(matrix[i], model.wv[word])
            checked += 1
    assert checked > 100
    assert 0 < vectors.embedding_coverage(vocab, model) < 1  # min_count=2 leaves rare words out


def test_two_seeded_word2vec_runs_are_identical(tokens):
    a = vectors.train_word2vec(tokens, vector_size=16, epochs=2, seed=11)
    b = vectors.train_word2vec(tokens, vector_size=16, epochs=2, seed=11)
    assert a.wv.index_to_key == b.wv.index_to_key
    np.testing.assert_array_equal(a.wv.vectors, b.wv.vectors)


SCRIPT = """
from llmcourse import data, text, vectors
ds = data.load_reviews().sample(300, seed=1)
tok = text.segment_corpus(ds.texts, use_cache=False, progress=False)
m = vectors.train_word2vec(tok, vector_size=8, epochs=1, seed=5)
print(repr(m.wv.vectors[:3].round(6).tolist()))
"""


def test_word2vec_is_identical_across_processes():
    """Python's str hash changes per process; our seeding must not depend on it."""
    outs = []
    for hashseed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hashseed)
        outs.append(
            subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True).stdout
        )
    assert outs[0] == outs[1] and outs[0].startswith("[[")


def test_flat_word_list_is_rejected():
    with pytest.raises(TypeError, match="词列表的列表"):
        vectors.train_word2vec(["我", "喜欢", "这个", "产品"])


def test_cached_word2vec_reuses_identical_vectors(tmp_path, tokens):
    params = dict(vector_size=12, epochs=1, seed=3)
    first, hit1 = vectors.cached_word2vec(tokens, directory=tmp_path, **params)
    second, hit2 = vectors.cached_word2vec(tokens, directory=tmp_path, **params)
    assert (hit1, hit2) == (False, True)
    assert first.index_to_key == second.index_to_key
    np.testing.assert_array_equal(first.vectors, second.vectors)
    fresh = vectors.train_word2vec(tokens, **params)
    np.testing.assert_array_equal(fresh.wv.vectors, second.vectors)
    _, hit3 = vectors.cached_word2vec(tokens[:-1], directory=tmp_path, **params)
    assert hit3 is False  # different text, new vectors
    vocab = vectors.Vocabulary.build(tokens)
    np.testing.assert_array_equal(vectors.embedding_matrix(vocab, second), vectors.embedding_matrix(vocab, fresh))


# --------------------------------------------------------------------------- only what the model reads is segmented
def test_a_long_text_is_cut_before_segmentation(monkeypatch):
    """A million characters cost what max_chars do: the segmenter never sees more (issue 18: 14 s, 1.3 GB)."""
    vocab = vectors.Vocabulary(text.segment("差评！物流很快，不会再买了"))
    seen = []
    real = text.tokenize_corpus
    monkeypatch.setattr(text, "tokenize_corpus", lambda texts, *a, **k: seen.extend(texts) or real(texts, *a, **k))
    long_text = "差评！" + "物流很快，" * 200_000 + "不会再买了"  # 1,000,008 characters
    for truncating in ("post", "pre"):
        encoder = vectors.TextEncoder(vocab, 48, truncating=truncating)
        ids = encoder.encode([long_text, "很好"])
        assert encoder.max_chars == 48 * vectors.CHARS_PER_TOKEN and max(map(len, seen)) <= encoder.max_chars
        assert ids.shape == (2, 48) and (ids[0] != 0).all()
        words = encoder.vocab.decode(ids[0])
        assert words[0] == "差评" if truncating == "post" else words[-3:] == ["再", "买", "了"]
        seen.clear()


@pytest.mark.parametrize("truncating", ["post", "pre"])
@pytest.mark.parametrize("max_len", [48, 400])  # the quick and the full encoders (config.sizes)
@pytest.mark.parametrize("stopwords", ["none", "default", "default+negations"])
def test_the_cut_changes_no_review_of_the_corpus(reviews, max_len, truncating, stopwords):
    """Every review of the shipped corpus encodes exactly as if it were segmented whole.

    Only reviews longer than max_chars can change; each is segmented whole and compared.
    At max_len 400 the cut (3,200 characters) is longer than the longest review (2,876).
    """
    stop = {
        "none": frozenset(),
        "default": text.load_stopwords(),
        "default+negations": text.load_stopwords() | text.NEGATION_WORDS,
    }[stopwords]
    limit = max_len * vectors.CHARS_PER_TOKEN
    long_texts = [t for t in reviews.texts if len(t) > limit]
    assert len(long_texts) > 100 if max_len == 48 else max(map(len, reviews.texts)) < limit
    whole = text.tokenize_corpus(long_texts, stop, use_cache=False, progress=False)
    encoder = vectors.TextEncoder(vectors.Vocabulary.build(whole), max_len, stop, truncating)
    np.testing.assert_array_equal(encoder.encode(long_texts), encoder.encode_tokens(whole))


@pytest.mark.parametrize("max_len, truncating", [(0, "post"), ("above the limit", "post"), (48, "middle")])
def test_an_encoder_refuses_settings_it_cannot_honour(max_len, truncating):
    max_len = vectors.MAX_LEN_LIMIT + 1 if max_len == "above the limit" else max_len
    with pytest.raises(ValueError, match="max_len|truncating"):
        vectors.TextEncoder(vectors.Vocabulary([]), max_len, truncating=truncating)


def test_char_fallback_reads_unseen_words_as_their_characters(tokens):
    plain = vectors.Vocabulary.build(tokens, min_count=2)
    vocab = vectors.Vocabulary.build(tokens, min_count=2, char_fallback=True)
    assert vocab.index_to_word[: len(plain)] == plain.index_to_word  # the words first, in the same order
    added = vocab.index_to_word[len(plain) :]
    assert added and all(len(c) == 1 for c in added)
    unseen = next(w for t in tokens for w in t if w not in plain and len(w) > 1 and all(c in vocab for c in w))
    assert plain.encode([unseen]) == [vectors.UNK_ID]
    assert vocab.encode([unseen]) == [vocab.word_to_index[c] for c in unseen]
    assert vocab.encode(["好", "😀"]) == [
        vocab.word_to_index["好"],
        vectors.UNK_ID,
    ]  # a word kept whole; an unseen char
    seen = [w for w in tokens[0] if w in plain]
    assert vocab.encode(seen) == plain.encode(seen)  # known words are read exactly as before


def test_char_fallback_keeps_max_size_and_survives_saving(tmp_path, tokens):
    vocab = vectors.Vocabulary.build(tokens, min_count=2, max_size=300, char_fallback=True)
    assert len(vocab) == 300 and vocab.char_fallback
    vocab.save(tmp_path / "vocab.json")
    loaded = vectors.Vocabulary.load(tmp_path / "vocab.json")
    assert loaded == vocab and loaded.char_fallback
    assert loaded.encode(["一个没见过的新词"]) == vocab.encode(["一个没见过的新词"])
    plain = vectors.Vocabulary.build(tokens, min_count=2)
    assert "char_fallback" not in plain.to_dict()  # files written without the option read as before
    assert plain != vectors.Vocabulary(plain.index_to_word[2:], plain.counts, char_fallback=True)
