import platform

import numpy as np
import pytest

from llmcourse import config, data, saving


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


def test_package_versions_reads_installed_distributions():
    table = saving.package_versions(["Python", "numpy", "surely-not-installed-xyz"])
    assert list(table["包"]) == ["Python", "numpy", "surely-not-installed-xyz"]
    assert table.loc[0, "版本"] == platform.python_version()
    assert table.loc[1, "版本"] == np.__version__ and table.loc[2, "版本"] == saving.NOT_INSTALLED


def test_check_versions_compares_versions_not_strings():
    table = saving.check_versions({"numpy": f">={np.__version__}", "Python": "<3", "surely-not-installed-xyz": ""})
    assert list(table["结果"]) == ["通过", "有问题", "有问题"]
    assert list(table["要求"]) == [f">={np.__version__}", "<3", "已安装"]
    assert not saving._satisfies("2.9", ">=2.16")  # as strings, "2.9" > "2.16"


def test_the_book_seed_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(config.SEED_ENV, raising=False)
    assert config.resolve_seed() == 42
    monkeypatch.setenv(config.SEED_ENV, " 7 ")
    assert config.resolve_seed() == 7
    assert config.resolve_seed(3) == 3  # an explicit seed wins


def test_the_book_seed_changes_the_split(monkeypatch):
    reviews = data.load_reviews().sample(400, seed=1)
    monkeypatch.setenv(config.SEED_ENV, "42")
    under_42 = data.split_dataset(reviews).test.texts
    monkeypatch.setenv(config.SEED_ENV, "7")
    under_7 = data.split_dataset(reviews).test.texts
    assert under_42 != under_7 and len(under_42) == len(under_7)
    assert data.split_dataset(reviews, seed=7).test.texts == under_7


@pytest.mark.parametrize("value", ["abc", "-1", "4294967296", "1.5"])
def test_a_bad_book_seed_is_refused(monkeypatch, value):
    monkeypatch.setenv(config.SEED_ENV, value)
    with pytest.raises(ValueError, match="LLMCOURSE_SEED"):
        config.resolve_seed()
