"""The registry: every model kind and recipe listed once, and everyone reads it from there."""

import pytest

from llmcourse import config, registry
from llmcourse.deploy import cli


def test_kinds_are_listed_once_and_the_cli_offers_every_one():
    assert set(registry.NEURAL_KINDS) | set(registry.BASELINE_KINDS) == set(registry.KINDS)
    assert set(registry.PRETRAINABLE_KINDS) == {"rnn", "lstm", "gru", "bilstm"}
    train = cli.build_parser()._subparsers._group_actions[0].choices["train"]
    model_option = next(a for a in train._actions if a.dest == "model")
    assert tuple(model_option.choices) == tuple(registry.KINDS) and "transformer" in model_option.choices
    assert model_option.default == registry.DEFAULT_KIND


def test_unknown_names_are_refused_in_chinese():
    with pytest.raises(ValueError, match="未知的模型类型 'cnn'"):
        registry.model_kind("cnn")
    with pytest.raises(ValueError, match="未知的神经网络模型 'tfidf-char'"):
        registry.model_kind("tfidf-char", registry.NEURAL)
    with pytest.raises(ValueError, match="未知的训练方案 'fast'：可选 default, averaged, plain"):
        registry.recipe("fast")


def test_the_default_recipe_follows_the_run_size():
    for profile in ("quick", "full"):
        sizes = config.sizes(profile)
        settings = registry.recipe("default").settings("bilstm", sizes)
        assert settings == {
            "pretrain_epochs": sizes.pretrain_epochs,
            "epochs": sizes.finetune_epochs,
            "word_dropout": 0.1,
            "weight_decay": 0.01,
            "learning_rate": 3e-3,
            "ensemble": 1,  # one fine-tune
            "length_balance": False,  # measured in chapter 5, not the default
        }
        averaged = registry.recipe("averaged").settings("bilstm", sizes)
        assert averaged["ensemble"] == sizes.ensemble >= 2 and averaged["learning_rate"] == 1e-3
        assert registry.recipe("plain").settings("bilstm", sizes) == {}
        # kinds that cannot be pretrained are trained plainly under every recipe
        assert registry.recipe("default").settings("transformer", sizes) == {}
