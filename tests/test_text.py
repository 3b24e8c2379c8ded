"""Segmentation, normalisation, stopwords and the segmentation cache."""

import pytest

from llmcourse import text


def test_segmentation_of_fixed_sentences():
    assert text.segment("我非常喜欢这个产品") == ["我", "非常", "喜欢", "这个", "产品"]
    # the full-width comma is normalised to "," before segmentation
    assert text.segment("房间不大，但是很干净。") == ["房间", "不", "大", ",", "但是", "很", "干净", "。"]


def test_segment_returns_a_reusable_list():
    words = text.segment("酒店的服务很好")
    assert isinstance(words, list) and list(words) == words and len(words) > 1


def test_modes_differ():
    sentence = "中华人民共和国成立了"
    accurate = text.Segmenter("accurate").cut(sentence)
    full = text.Segmenter("full").cut(sentence)
    search = text.Segmenter("search").cut(sentence)
    assert accurate == ["中华人民共和国", "成立", "了"]
    assert len(full) > len(accurate) and "中华" in full
    assert "中华" in search and "中华人民共和国" in search
    with pytest.raises(ValueError, match="分词模式"):
        text.Segmenter("fast")


def test_user_dictionary(tmp_path):
    sentence = "这台笔记本的续航神了"
    assert "续航神" not in text.segment(sentence)
    d = tmp_path / "user.txt"
    d.write_text("续航神 100 a\n", encoding="utf-8")
    assert "续航神" in text.Segmenter(user_dict=d).cut(sentence)
    assert "续航神" not in text.segment(sentence)  # the default segmenter is untouched


def test_fullwidth_to_halfwidth():
    assert text.to_halfwidth("ＡＢＣ１２３，！　好") == "ABC123,! 好"
    assert text.normalize_text("  ＩＰＡＤ　很好  ") == "ipad 很好"


def test_stopwords_keep_negation_and_degree_words():
    sw = text.load_stopwords()
    raw = text.load_stopwords(keep=())
    assert len(raw) == 794
    for word in ["不", "很", "不是", "但是", "却"]:
        assert word in raw and word not in sw
    assert "的" in sw
    tokens = text.segment("这本书不是很好看")
    assert text.remove_stopwords(tokens, sw) == ["本书", "不是", "很", "好看"]
    assert "不是" not in text.remove_stopwords(tokens, raw)


def test_cache_hit_returns_identical_tokens_without_jieba(tmp_path, small_reviews, monkeypatch):
    texts = small_reviews.texts[:200]
    seg = text.Segmenter()
    first = text.segment_corpus(texts, seg, directory=tmp_path)
    assert len(list(tmp_path.glob("segments/*/tokens.json.gz"))) == 1

    def no_jieba(*args, **kwargs):
        raise AssertionError("jieba was called on a cache hit")

    fresh = text.Segmenter()
    monkeypatch.setattr(fresh, "cut", no_jieba)
    assert text.segment_corpus(texts, fresh, directory=tmp_path) == first


def test_cache_key_changes_with_texts_and_settings(tmp_path, small_reviews):
    texts = small_reviews.texts[:50]
    text.segment_corpus(texts, text.Segmenter(), directory=tmp_path)
    text.segment_corpus(texts[:-1], text.Segmenter(), directory=tmp_path)
    text.segment_corpus(texts, text.Segmenter("search"), directory=tmp_path)
    assert len(list(tmp_path.glob("segments/*/tokens.json.gz"))) == 3


def test_tokenize_corpus_removes_stopwords(tmp_path):
    tokens = text.tokenize_corpus(["我的房间很干净"], text.load_stopwords(), use_cache=False)
    assert tokens == [["房间", "很", "干净"]]
