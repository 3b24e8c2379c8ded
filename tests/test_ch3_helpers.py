"""Helpers added for chapter 3: segmentation scores, negation probes, word-vector views, search-index check."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from llmcourse import text, vectors

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- segmentation scores
def test_word_spans():
    assert text.word_spans(["房间", "很", "干净"]) == {(0, 2), (2, 3), (3, 5)}
    assert text.word_spans([]) == set()


def test_scores_of_the_chapter_exercise():
    gold = ["房间", "很", "干净", "，", "但是", "隔音", "不", "好"]
    predicted = ["房间", "很干净", "，", "但是", "隔音", "不好"]
    s = text.segmentation_scores(predicted, gold)
    assert (s.predicted_words, s.gold_words, s.sentences) == (6, 8, 1)
    assert s.precision == pytest.approx(4 / 6) and s.recall == pytest.approx(4 / 8)
    assert s.f1 == pytest.approx(2 * (4 / 6) * (4 / 8) / (4 / 6 + 4 / 8))
    assert s.boundary_precision == 1.0 and s.boundary_recall == pytest.approx(5 / 7)
    assert s.boundary_f1 == pytest.approx(2 * (5 / 7) / (1 + 5 / 7))
    assert "精确率" in str(s)


def test_scores_pool_counts_over_sentences():
    gold = [["我", "爱", "北京"], ["你好"]]
    predicted = [["我", "爱北京"], ["你", "好"]]
    s = text.segmentation_scores(predicted, gold)
    # words: 1 of 4 predicted right, 1 of 4 gold found; cuts: predicted {1} and {1}, gold {1, 2} and {}
    assert s.precision == pytest.approx(1 / 4) and s.recall == pytest.approx(1 / 4)
    assert s.boundary_precision == pytest.approx(1 / 2) and s.boundary_recall == pytest.approx(1 / 2)
    assert s.sentences == 2


def test_perfect_and_disjoint_segmentations():
    sentence = ["中华人民共和国", "成立", "了"]
    perfect = text.segmentation_scores([sentence], [sentence])
    assert perfect.f1 == 1.0 and perfect.boundary_f1 == 1.0
    single = text.segmentation_scores([["好"]], [["好"]])  # no cut point at all: still perfect
    assert single.boundary_f1 == 1.0
    wrong = text.segmentation_scores(["ab", "c"], ["a", "bc"])
    assert wrong.f1 == 0.0 and wrong.boundary_f1 == 0.0


def test_normalised_text_can_be_compared_with_fullwidth_gold():
    gold = ["１２月", "３１日"]
    predicted = text.segment("".join(gold))  # half-width digits, same number of characters
    assert "".join(predicted) == "12月31日"
    assert text.segmentation_scores(predicted, gold).boundary_recall == 1.0


def test_scores_reject_different_texts():
    with pytest.raises(ValueError, match="第 0 句"):
        text.segmentation_scores([["房间"]], [["房间", "很"]])
    with pytest.raises(ValueError, match="句"):
        text.segmentation_scores([["a"], ["b"]], [["a"]])


# --------------------------------------------------------------------------- negation probes
def test_negation_words_are_kept_by_default():
    assert text.NEGATION_WORDS <= text.SENTIMENT_KEEP_WORDS
    assert not text.NEGATION_WORDS & text.load_stopwords()


def test_probes_are_balanced_distinct_and_labelled():
    probes = text.negation_probes()
    assert len(probes) == len(text.NEGATION_PROBES) >= 30
    assert probes.counts() == {1: len(probes) // 2, 0: len(probes) // 2}
    assert len(set(probes.texts)) == len(probes)
    assert set(probes.labels) == {0, 1}


def test_every_probe_loses_its_negation_when_negations_are_stopwords():
    default = text.load_stopwords()
    without_negations = default | text.NEGATION_WORDS
    for probe, _ in text.NEGATION_PROBES:
        tokens = text.segment(probe)
        assert any(t in text.NEGATION_WORDS for t in tokens), probe
        assert text.remove_stopwords(tokens, default) != text.remove_stopwords(tokens, without_negations), probe


def test_probes_are_not_copied_from_the_corpus(reviews):
    corpus = set(reviews.texts)
    assert not [p for p, _ in text.NEGATION_PROBES if p in corpus]


# --------------------------------------------------------------------------- word vectors
@pytest.fixture(scope="module")
def small_w2v(small_reviews):
    tokens = text.segment_corpus(small_reviews.texts, use_cache=False, progress=False)
    return vectors.train_word2vec(tokens, vector_size=16, epochs=2, min_count=2)


def test_nearest_words(small_w2v):
    word = small_w2v.wv.index_to_key[5]
    neighbours = vectors.nearest_words(small_w2v, word, k=4)
    assert len(neighbours) == 4 and word not in [w for w, _ in neighbours]
    sims = [s for _, s in neighbours]
    assert sims == sorted(sims, reverse=True) and all(-1.0 <= s <= 1.0 for s in sims)
    assert vectors.nearest_words(small_w2v.wv, word, k=4) == neighbours  # KeyedVectors work too
    with pytest.raises(KeyError, match="没有词向量"):
        vectors.nearest_words(small_w2v, "绝对没有这个词")


def test_project_2d(small_w2v):
    words = small_w2v.wv.index_to_key[:10]
    coords = vectors.project_2d(small_w2v, words)
    assert coords.shape == (10, 2) and np.isfinite(coords).all()
    assert np.allclose(coords.mean(axis=0), 0, atol=1e-5)  # PCA centres the points
    with pytest.raises(KeyError, match="绝对没有这个词"):
        vectors.project_2d(small_w2v, words[:3] + ["绝对没有这个词"])
    with pytest.raises(ValueError):
        vectors.project_2d(small_w2v, words[:1])


# --------------------------------------------------------------------------- search-index check
def _checker():
    spec = importlib.util.spec_from_file_location("check_search_index", ROOT / "tests" / "check_search_index.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_index(folder: Path, terms: dict, titleterms: dict) -> None:
    payload = json.dumps({"terms": terms, "titleterms": titleterms, "docnames": ["a"]})  # ASCII-escaped, as Sphinx
    (folder / "searchindex.js").write_text(f"Search.setIndex({payload})", encoding="utf-8")


def test_search_index_check_passes_and_fails(tmp_path, capsys):
    check = _checker()
    _write_index(tmp_path, {"分词": [0], "向量": 0}, {"词向量": [0]})
    assert check.missing_words(check.load_search_index(tmp_path)) == []
    assert check.main([str(tmp_path)]) == 0
    assert check.main([str(tmp_path), "分词", "停用词"]) == 1
    assert "停用词" in capsys.readouterr().err


def test_search_index_check_without_a_build(tmp_path, capsys):
    check = _checker()
    assert check.main([str(tmp_path)]) == 1
    assert "searchindex.js" in capsys.readouterr().err


# --------------------------------------------------------------------------- chapter 3 tables
def test_segmentation_differences_and_table():
    gold = [["房间", "很", "干净"], ["不", "好"]]
    predicted = [["房间", "很干净"], ["不好"]]
    missed, extra = text.segmentation_differences(predicted, gold)
    assert missed == {"很": 1, "干净": 1, "不": 1, "好": 1}
    assert extra == {"很干净": 1, "不好": 1}
    table = text.segmentation_difference_table(predicted, gold, k=2)
    assert list(table["名次"]) == [1, 2]
    assert table.iloc[0, 2] == "很干净（1）"


def test_contains_any_and_stopword_changes():
    assert text.contains_any([["不", "好"], ["很", "好"]], text.NEGATION_WORDS).tolist() == [True, False]
    keep = text.load_stopwords()
    assert text.stopword_changes(["早餐不好吃", "房间干净"], keep, keep | text.NEGATION_WORDS) == 1


def test_word_label_table_orders_and_shares():
    tokens = [["不", "好"], ["不", "差"], ["没有", "问题"], ["好"]]
    labels = [0, 0, 1, 1]
    table = text.word_label_table(tokens, labels, ["没有", "不", "别"], by_count=True)
    assert list(table["词"]) == ["不", "没有"]  # sorted by count, absent word dropped
    assert list(table["含这个词的训练评论"]) == [2, 1] and list(table["其中正面评论的比例"]) == [0.0, 1.0]
    kept = text.word_label_table(tokens, labels, ["好", "别"])
    assert list(kept["词"]) == ["好", "别"] and np.isnan(kept["其中正面评论的比例"][1])


def test_negation_accuracy_and_probe_tables():
    probe_labels = [label for _, label in text.NEGATION_PROBES]
    perfect = np.array(probe_labels, dtype=float)
    results = {
        "全对": (0.9, np.array([0.9, 0.1]), perfect, 1.0),
        "全猜正面": (0.5, np.array([0.9, 0.9]), np.ones(len(perfect)), 2.0),
    }
    table = text.negation_accuracy_table(results, [1, 0], [True, False], probe_labels)
    assert list(table["测试集"]) == [1.0, 0.5]
    assert table.iloc[1]["探针句：正面 18 条"] == 1.0 and table.iloc[1]["探针句：负面 18 条"] == 0.0
    assert "含否定词的测试评论（1 条）" in table.columns
    probes = text.probe_table({"全对": perfect, "全猜正面": np.ones(len(perfect))})
    assert len(probes) == len(text.NEGATION_PROBES)
    assert probes.iloc[0]["全对"] == "0.00" and probes.iloc[0]["全猜正面"] == "1.00 ✗"


def test_nearest_table_and_words_with_vectors():
    sentences = [["房间", "很", "干净"], ["服务", "很", "周到"]] * 20
    w2v = vectors.train_word2vec(sentences, vector_size=8, min_count=1)
    table = vectors.nearest_table(w2v, ["房间", "键盘"], k=2)
    assert table.columns.tolist() == ["词", "最相近的 2 个词（余弦相似度）"]
    assert table.iloc[0, 1].count("（") == 2 and "没有向量" in table.iloc[1, 1]
    words, groups = vectors.words_with_vectors(w2v, {"酒店": ["房间", "键盘"], "服务": ["服务"]})
    assert (words, groups) == (["房间", "服务"], ["酒店", "服务"])
