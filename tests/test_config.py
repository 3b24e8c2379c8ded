import pytest

from llmcourse import config


def test_default_profile_is_full(monkeypatch):
    monkeypatch.delenv(config.PROFILE_ENV, raising=False)
    assert config.sizes().profile == "full"
    assert config.sizes().max_reviews is None


def test_quick_profile_is_small(monkeypatch):
    monkeypatch.setenv(config.PROFILE_ENV, "quick")
    quick = config.sizes()
    full = config.sizes("full")
    assert quick.profile == "quick"
    assert quick.max_reviews < 2000 and quick.epochs <= full.epochs and quick.max_len < full.max_len


def test_unknown_profile_is_rejected(monkeypatch):
    monkeypatch.setenv(config.PROFILE_ENV, "huge")
    with pytest.raises(ValueError, match="LLMCOURSE_PROFILE"):
        config.sizes()
