"""What can be trained: the model kinds and the named training recipes, each listed once.

The model builders, the baselines, the command line, the benchmarks and the chapters
all look kinds and recipes up here, so that a new kind or a changed recipe reaches
every one of them at once. Taught in chapter 5.
"""

from __future__ import annotations

import dataclasses

from llmcourse.config import RunSizes

NEURAL, BASELINE = "neural", "baseline"


@dataclasses.dataclass(frozen=True)
class ModelKind:
    """One kind of classifier: its key (used on the command line), its name in tables, its family.

    Taught in chapter 5.
    """

    key: str
    name: str  # shown in the book's tables
    family: str  # NEURAL (Keras, see models) or BASELINE (TF-IDF + logistic regression, see baselines)
    pretrainable: bool = False  # a recurrent encoder that can be pretrained as a language model (pretraining)


KINDS: dict[str, ModelKind] = {
    k.key: k
    for k in (
        ModelKind("mean", "平均词向量", NEURAL),
        ModelKind("rnn", "SimpleRNN", NEURAL, pretrainable=True),
        ModelKind("lstm", "LSTM", NEURAL, pretrainable=True),
        ModelKind("bilstm", "双向 LSTM", NEURAL, pretrainable=True),
        ModelKind("gru", "GRU", NEURAL, pretrainable=True),
        ModelKind("transformer", "Transformer 编码器", NEURAL),
        ModelKind("tfidf-char", "TF-IDF 字 1-3 元 + 逻辑回归", BASELINE),
        ModelKind("tfidf-word", "TF-IDF jieba 词 1-2 元 + 逻辑回归", BASELINE),
    )
}
NEURAL_KINDS = tuple(k for k, v in KINDS.items() if v.family == NEURAL)
BASELINE_KINDS = tuple(k for k, v in KINDS.items() if v.family == BASELINE)
PRETRAINABLE_KINDS = tuple(k for k, v in KINDS.items() if v.pretrainable)
DEFAULT_KIND = "bilstm"


def model_kind(key: str, family: str | None = None) -> ModelKind:
    """The kind called `key` (of `family`, when given); a clear error for any other name.

    Taught in chapter 5.
    """
    choices = [k for k, v in KINDS.items() if family in (None, v.family)]
    if key not in choices:
        what = {NEURAL: "神经网络模型", BASELINE: "基线模型", None: "模型类型"}[family]
        raise ValueError(f"未知的{what} {key!r}：可选 {', '.join(choices)}")
    return KINDS[key]


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How a neural kind is trained, by name. Settings that depend on the run size come from `RunSizes`.

    Taught in chapter 5.
    """

    name: str
    description: str
    pretrain: bool  # pretrain the encoder as a language model first (pretrainable kinds only)
    word_dropout: float = 0.0  # drop whole words while fine-tuning
    weight_decay: float = 0.0  # > 0: AdamW
    learning_rate: float = 1e-3  # of the fine-tune (Adam or AdamW)
    average: bool = False  # fine-tune `sizes.ensemble` copies and average their logits
    length_balance: bool = False  # weigh examples so that length alone predicts no label (training)

    def settings(self, kind: str, sizes: RunSizes) -> dict:
        """Keyword arguments of `pipeline.train_neural` for `kind` under this recipe.

        A kind that cannot be pretrained (the averaged embedding, the Transformer)
        is trained plainly under every recipe.
        """
        if not (self.pretrain and model_kind(kind, NEURAL).pretrainable):
            return {}
        return {
            "pretrain_epochs": sizes.pretrain_epochs,
            "epochs": sizes.finetune_epochs,
            "word_dropout": self.word_dropout,
            "weight_decay": self.weight_decay,
            "learning_rate": self.learning_rate,
            "ensemble": sizes.ensemble if self.average else 1,
            "length_balance": self.length_balance,
        }


# The default recipe (chapter 5): pretrain the embedding and the recurrent layer as a
# language model on the training reviews, then fine-tune once with whole-word dropout and
# AdamW at a larger learning rate, for at most `sizes.finetune_epochs` epochs, keeping the
# epoch with the best validation accuracy. benchmarks/recipe_budget.py chose it on
# validation accuracy: within the same training seconds, one fine-tune of three epochs at
# 3e-3 beat two fine-tunes of two epochs at 1e-3 averaged (the "averaged" recipe, kept so
# that the comparison can be re-run), and took less time.
RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe(
            "default",
            "语言模型预训练，再用词级 dropout 和 AdamW 微调一次",
            pretrain=True,
            word_dropout=0.1,
            weight_decay=0.01,
            learning_rate=3e-3,
        ),
        Recipe(
            "averaged",
            "语言模型预训练，再微调几次取 logit 平均",
            pretrain=True,
            word_dropout=0.2,
            weight_decay=0.01,
            average=True,
        ),
        Recipe("plain", "Word2Vec 初始化词向量，直接训练", pretrain=False),
    )
}
DEFAULT_RECIPE = "default"


def recipe(name: str) -> Recipe:
    """The recipe called `name`; a clear error for any other name.

    Taught in chapter 5.
    """
    if name not in RECIPES:
        raise ValueError(f"未知的训练方案 {name!r}：可选 {', '.join(RECIPES)}")
    return RECIPES[name]
