"""Comparing two classifiers on the same test examples."""

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
