"""Comparing classifiers on the same test examples, and the tables the chapters display."""

import types

import numpy as np
import pytest

from llmcourse import evaluation


def test_paired_comparison_counts_disagreements():
    y = [1, 1, 0, 0, 1, 0]
    a = [0.9, 0.8, 0.2, 0.7, 0.4, 0.1]  # right on 0, 1, 2, 5
    b = [0.9, 0.3, 0.6, 0.2, 0.6, 0.1]  # right on 0, 3, 4, 5
    result = evaluation.paired_comparison(y, a, b)
    assert (result.only_a, result.only_b) == (2, 2)
    assert result.p_value == 1.0
    one_sided = evaluation.paired_comparison([1] * 12, [0.9] * 12, [0.1] * 12)
    assert one_sided.only_a == 12 and one_sided.p_value < 0.001


def test_accuracy_stderr_is_the_binomial_one():
    assert evaluation.accuracy_stderr(0.9, 100) == pytest.approx(0.03)
    assert evaluation.accuracy_stderr(1.0, 10) == 0.0


def test_pretraining_table_has_one_row_per_epoch():
    record = types.SimpleNamespace(
        loss={"forward": [5.12345, 4.5], "backward": [5.5, 4.9]},
        heldout_perplexity={"forward": [300.04, 250.0], "backward": [320.0, 260.0]},
        epoch_seconds=[20.4, 19.6],
    )
    table = evaluation.pretraining_table(record)
    assert list(table["预训练轮次"]) == [1, 2] and list(table["秒"]) == [20, 20]
    assert table.loc[0, "前向损失（采样）"] == 5.123 and table.loc[0, "前向困惑度（验证评论）"] == 300.0


def test_parameter_table_splits_off_the_embedding():
    run = types.SimpleNamespace(
        name="LSTM",
        parameters=1500,
        epoch_seconds=[2.0, 3.0],
        model=types.SimpleNamespace(config={"training": {"best_epoch": 1}}),
    )
    row = evaluation.parameter_table([run], embedding_parameters=1000).iloc[0]
    assert (row["嵌入层参数"], row["其余参数"], row["每轮秒数"], row["训练轮数"], row["最好的一轮"]) == (
        1000,
        500,
        2.5,
        2,
        1,
    )


def test_reasons_are_matched_by_prefix():
    reasons = {"物流": "慢", "房间": "吵"}
    assert evaluation.reasons_by_prefix(["物流太慢", "房间小", "别的"], reasons) == ["慢", "吵", "（未标注）"]


def test_most_confident_orders_and_shortens():
    texts = ["好" * 100, "差", "一般"]
    top = evaluation.most_confident(texts, [1, 0, 1], [0.99, 0.01, 0.6], k=2, max_chars=10)
    assert list(top["正面概率"]) == [0.99, 0.6] and top.loc[0, "评论"] == "好" * 9 + "…"
    assert (
        evaluation.most_confident(texts, [1, 0, 1], [0.99, 0.01, 0.6], k=1, positive=False).loc[0, "真实类别"] == "负面"
    )


def test_simulated_days_follow_the_plan_without_reuse():
    labels = np.array([0] * 50 + [1] * 50)
    days = evaluation.simulated_days(labels, [0.2, 0.2, 0.8], day_size=10, seed=1)
    assert [int(np.sum(labels[d] == 0)) for d in days] == [2, 2, 8]
    used = np.concatenate(days)
    assert len(set(used.tolist())) == len(used) == 30


def test_adjusted_classify_and_count_recovers_the_true_share():
    labels = [0, 0, 0, 0, 1, 1, 1, 1]
    prob = [0.1, 0.2, 0.3, 0.9, 0.8, 0.7, 0.6, 0.4]  # 3 of 4 negatives and 1 of 4 positives predicted negative
    t, f = evaluation.negative_rates(labels, prob)
    assert (t, f) == (0.75, 0.25)
    assert evaluation.adjusted_share(t * 0.3 + f * 0.7, t, f) == pytest.approx(0.3)
    assert evaluation.adjusted_share(0.0, t, f) == 0.0  # clipped


class _Fixed:
    """A classifier that calls a text negative when it contains 差."""

    def predict(self, texts):
        return [{"label": 0 if "差" in t else 1} for t in texts]


def test_daily_negative_shares_counts_and_adjusts():
    texts, labels = ["差", "好", "差", "好"], np.array([0, 1, 0, 1])
    table = evaluation.daily_negative_shares(
        _Fixed(), texts, labels, [np.array([0, 1]), np.array([2, 3])], t=0.9, f=0.1
    )
    assert list(table["天"]) == [1, 2] and list(table["分类计数"]) == [0.5, 0.5]
    assert list(table["校正后"]) == [0.5, 0.5] and list(table["真实负面比例"]) == [0.5, 0.5]
    unadjusted = evaluation.daily_negative_shares(_Fixed(), texts, labels, [np.array([0, 0, 1])], t=0.5, f=0.48)
    assert unadjusted.loc[0, "校正后"] == unadjusted.loc[0, "分类计数"] == 0.667


class _Lm:
    def __init__(self, chars):
        self.chars = chars

    def next_char_distribution(self, prefix, k=10):
        return [(c, 1 / len(self.chars)) for c in self.chars][:k]


def test_language_model_tables():
    table = evaluation.perplexity_table({"3 元语法": 100.0, "字级 LSTM": 80.0}, reference="3 元语法")
    assert list(table.columns) == ["模型", "测试困惑度", "与 3 元语法相比"]
    assert list(table["与 3 元语法相比"]) == ["+0.0%", "-20.0%"]
    chars = evaluation.next_char_table(["房间"], {"字级 LSTM": _Lm("很好"), "3 元语法": _Lm("不")}, k=1)
    assert list(chars.columns) == ["前缀", "字级 LSTM 的前 1 个字", "3 元语法的前 1 个字"]
    assert chars.loc[0, "字级 LSTM 的前 1 个字"] == "很（0.50）"
