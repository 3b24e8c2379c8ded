"""The character n-gram language model on real reviews: proper distributions, perplexity, generation."""

import math

import numpy as np
import pytest

from llmcourse import data, ngram


@pytest.fixture(scope="module")
def split_texts(reviews):
    parts = data.split_dataset(reviews.sample(3000, seed=3), seed=42)
    return parts.train.texts, parts.test.texts


@pytest.fixture(scope="module")
def models(split_texts):
    train, _ = split_texts
    return {n: ngram.CharNgramLM(n).fit(train) for n in (1, 2, 3)}


CONTEXTS = ["", "这家酒店的服务", "屏幕", "《", "电脑的", "龘𠀀", "a"]


@pytest.mark.parametrize("order", [1, 2, 3])
def test_probabilities_sum_to_one(models, order):
    lm = models[order]
    symbols = lm.symbols()
    assert symbols[-2:] == [ngram.EOS_TOKEN, ngram.UNK_TOKEN] and len(set(symbols)) == len(symbols)
    for context in CONTEXTS:
        p = lm.distribution(context)
        assert p.shape == (len(symbols),) and (p > 0).all()
        assert abs(p.sum() - 1) < 1e-6
        by_prob = [lm.prob(ch, context) for ch in symbols]
        np.testing.assert_allclose(by_prob, p, rtol=1e-9)


def test_higher_order_has_lower_heldout_perplexity(models, split_texts):
    _, heldout = split_texts
    ppl = {n: models[n].perplexity(heldout) for n in (1, 2, 3)}
    assert ppl[3] < ppl[2] < ppl[1]
    assert ppl[1] < len(models[1].symbols())  # better than guessing uniformly


def test_perplexity_matches_log_prob(models):
    lm = models[2]
    texts = ["房间很干净", "不错"]
    lp = sum(lm.log_prob(t)[0] for t in texts)
    n = sum(len(t) + 1 for t in texts)  # one end-of-text symbol per text
    assert math.isclose(lm.perplexity(texts), math.exp(-lp / n))
    expected = math.log(lm.prob("不")) + math.log(lm.prob("错", "不")) + math.log(lm.prob(ngram.EOS_TOKEN, "不错"))
    assert math.isclose(lm.log_prob("不错")[0], expected)


def test_unseen_characters_do_not_crash(models):
    lm = models[3]
    strange = "龘𠀀\x02\x03"
    assert 0 < lm.prob("龘", "房间") == lm.prob(ngram.UNK_TOKEN, "房间") < 1e-3
    assert math.isfinite(lm.perplexity([strange, "𠀀房间很好"]))
    assert lm.next_char_distribution(strange, k=3)[0][1] > 0
    assert isinstance(lm.generate(strange, max_chars=5, seed=1), str)
    with pytest.raises(ValueError):
        lm.prob("房间")


def test_generation_is_deterministic_for_a_seed(models):
    lm = models[3]
    a = lm.generate("这家酒店", max_chars=30, temperature=0.8, seed=7)
    b = lm.generate("这家酒店", max_chars=30, temperature=0.8, seed=7)
    c = lm.generate("这家酒店", max_chars=30, temperature=0.8, seed=8)
    assert a == b and a.startswith("这家酒店") and len(a) <= 4 + 30
    assert a != c
    assert ngram.UNK_TOKEN not in a and ngram.EOS_TOKEN not in a
    greedy = lm.generate("这家酒店", max_chars=10, temperature=0)
    assert greedy == lm.generate("这家酒店", max_chars=10, temperature=0, seed=123)


def test_fit_is_deterministic(split_texts):
    train, heldout = split_texts
    a = ngram.CharNgramLM(3).fit(train[:500])
    b = ngram.CharNgramLM(3).fit(list(train[:500]))
    assert a.symbols() == b.symbols() and a.discounts == b.discounts
    assert a.perplexity(heldout[:50]) == b.perplexity(heldout[:50])


def test_unigram_kneser_ney_by_hand():
    lm = ngram.CharNgramLM(1).fit(["aab", "a"])
    # symbols a, b, </s>, <unk>; counts a=3, b=1, </s>=2 (N=6); n1=1, n2=1 -> D=1/3
    d = 1 / 3
    assert lm.discounts == pytest.approx([d])
    base = d * 3 / 6 / 4
    assert lm.prob("a") == pytest.approx((3 - d) / 6 + base)
    assert lm.prob(ngram.EOS_TOKEN) == pytest.approx((2 - d) / 6 + base)
    assert lm.prob("z") == pytest.approx(base)


def test_bigram_counts_and_backoff():
    lm = ngram.CharNgramLM(2).fit(["好好", "好的"])
    assert lm.count("好的") == 1 and lm.count("好好") == 1 and lm.count("的好") == 0
    # a context never seen falls back on the continuation unigram distribution
    assert lm.prob("好", "x") == pytest.approx(lm.prob("好", "龘"))
    assert lm.num_ngrams()[1] == len({"\x02好", "好好", "好\x03", "好的", "的\x03"})


def test_bad_arguments():
    with pytest.raises(ValueError):
        ngram.CharNgramLM(0)
    with pytest.raises(RuntimeError):
        ngram.CharNgramLM(2).prob("好")
    with pytest.raises(ValueError):
        ngram.CharNgramLM(2).fit([])


def test_lm_splits_are_the_classification_splits():
    train, heldout = ngram.lm_splits(seed=42, max_reviews=400)
    parts = data.split_dataset(data.load_reviews().sample(400, seed=42), seed=42)
    assert train == parts.train.texts and heldout == parts.test.texts
    assert not set(train) & set(heldout)


# ------------------------------------------------------------------ the figures of chapter 2
def test_chapter2_figures_draw_without_missing_glyphs():
    import warnings

    import matplotlib.pyplot as plt

    from llmcourse import plotting

    nodes = ["数据：收集、清洗", "预训练", "算力（GPU）", "评估", "应用"]
    edges = [
        (nodes[0], nodes[1]),
        (nodes[2], nodes[1]),
        (nodes[1], nodes[3]),
        (nodes[3], nodes[4]),
        (nodes[4], nodes[0], "用户反馈"),
    ]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a missing glyph would raise here
            for direction in ("TB", "LR"):
                ax = plotting.plot_flow_diagram(nodes, edges, direction=direction, title="流程图")
                ax.figure.canvas.draw()
            ax = plotting.plot_perplexity([1, 2, 3], {"训练集": [500, 60, 15], "测试集": [510, 80, 56]})
            ax.figure.canvas.draw()
    finally:
        plt.close("all")


def test_flow_diagram_layers_and_feedback_edges():
    from llmcourse.plotting import _find_feedback_edges, _longest_path_layers

    nodes = ["数据", "训练", "评估", "部署"]
    edges = [("数据", "训练"), ("训练", "评估"), ("评估", "部署"), ("评估", "训练"), ("部署", "数据")]
    back = _find_feedback_edges(nodes, edges)
    assert back == {("评估", "训练"), ("部署", "数据")}
    assert _longest_path_layers(nodes, edges, back) == {"数据": 0, "训练": 1, "评估": 2, "部署": 3}
    with pytest.raises(ValueError, match="不在 nodes"):
        from llmcourse import plotting

        plotting.plot_flow_diagram(["甲"], [("甲", "乙")])


# --------------------------------------------------------------------------- chapter 2 tables
def test_unseen_characters():
    lm = ngram.CharNgramLM(order=2).fit(["房间很好", "服务很好"])
    assert ngram.unseen_characters(lm, ["房间很大", "龘"]) == (2, 5)


def test_next_char_table():
    lm = ngram.CharNgramLM(order=2).fit(["房间很好", "服务很好", "房间很大"])
    table = ngram.next_char_table(lm, ["很", "房"], k=2)
    assert list(table["前缀"]) == ["很", "房"]
    assert table.iloc[0, 1].startswith("好（") and table.iloc[0, 1].count("（") == 2


def test_compare_orders_reuses_the_fitted_model(split_texts, models):
    train, heldout = split_texts
    table = ngram.compare_orders(train, heldout[:50], [1, 2], fitted=models[2])
    assert list(table["阶数 n"]) == [1, 2]
    assert table.loc[1, "测试集困惑度"] == pytest.approx(models[2].perplexity(heldout[:50]))
    assert table.loc[0, "训练集困惑度"] == pytest.approx(models[1].perplexity(train[:50]))
    assert table.loc[1, "最高阶组合数"] == models[2].num_ngrams()[-1]
