"""The prose tools: glued values come back unchanged, claims fail the full build and only it."""

import numpy as np
import pytest

from llmcourse import book, config


def test_glue_returns_plain_python_values():
    value = book.glue("test_accuracy", np.float32(0.5))
    assert value == 0.5 and type(value) is float
    assert book.glue("test_count", 12, ",d") == 12


def test_choose_picks_the_true_wording():
    assert book.choose(0.86 > 0.85, "超过", "不及") == "超过"
    assert book.choose(0.84 > 0.85, "超过", "不及") == "不及"


def test_a_broken_claim_fails_the_full_build(monkeypatch):
    monkeypatch.setenv(config.PROFILE_ENV, "full")
    book.claim(True, "一定成立")
    with pytest.raises(book.ClaimError, match="平均模型超过基线"):
        book.claim(False, "平均模型超过基线")


def test_the_quick_profile_checks_only_claims_that_hold_at_any_size(monkeypatch, capsys):
    monkeypatch.setenv(config.PROFILE_ENV, "quick")
    book.claim(False, "平均模型超过基线")
    assert "不检查" in capsys.readouterr().out
    with pytest.raises(book.ClaimError):
        book.claim(False, "概率之和为一", also_quick=True)
