"""Run sizes for the whole course, chosen by one environment variable.

`LLMCOURSE_PROFILE=full` (default) gives the sizes the book is written for;
`LLMCOURSE_PROFILE=quick` gives tiny ones so every notebook cell runs in
seconds under nbval and CI. Notebooks read every data size and epoch count
from `sizes()` and never hard-code them.
"""

from __future__ import annotations

import dataclasses
import os
import random
import sys

import numpy as np

PROFILE_ENV = "LLMCOURSE_PROFILE"
SEED_ENV = "LLMCOURSE_SEED"
DEFAULT_SEED = 42


@dataclasses.dataclass(frozen=True)
class RunSizes:
    """Data sizes and training lengths for one profile. Taught in chapter 1."""

    profile: str
    max_reviews: int | None  # None = the whole deduplicated corpus
    max_len: int  # tokens kept per review (batches are padded only to their longest review)
    vocab_size: int  # largest vocabulary (padding and unknown included)
    embedding_dim: int
    w2v_epochs: int
    extra_w2v_sentences: int | None  # People's Daily sentences added to Word2Vec's text (None = all)
    epochs: int  # upper bound for neural training (early stopping may stop sooner)
    batch_size: int
    hidden_units: int
    pretrain_epochs: int  # language-model pretraining of the default classifier's encoder
    ensemble: int  # fine-tuned copies of the pretrained encoder whose logits the "averaged" recipe averages
    finetune_epochs: int  # upper bound for each fine-tune of a pretrained encoder (it converges sooner)
    lm_epochs: int  # character-level LSTM language model (chapter 6)
    lm_hidden_units: int
    lm_embedding_dim: int


PROFILES: dict[str, RunSizes] = {
    "full": RunSizes(
        profile="full",
        max_reviews=None,
        max_len=400,
        vocab_size=30000,
        embedding_dim=100,
        w2v_epochs=5,
        extra_w2v_sentences=8000,
        # the training lengths, the batch and the news text for Word2Vec are cut to what a cold
        # build of the whole book on a 2-core CPU affords (benchmarks/chapter_profile.py shows
        # where the time goes, benchmarks/tf_settings.py what larger batches save); the chapters
        # say where a longer run would help
        epochs=3,
        batch_size=128,
        hidden_units=64,
        pretrain_epochs=1,
        ensemble=2,
        finetune_epochs=3,
        lm_epochs=2,
        lm_hidden_units=192,
        lm_embedding_dim=128,
    ),
    "quick": RunSizes(
        profile="quick",
        max_reviews=800,
        max_len=48,
        vocab_size=3000,
        embedding_dim=32,
        w2v_epochs=2,
        extra_w2v_sentences=300,
        epochs=1,
        batch_size=64,
        hidden_units=16,
        pretrain_epochs=1,
        ensemble=2,
        finetune_epochs=1,
        lm_epochs=1,
        lm_hidden_units=32,
        lm_embedding_dim=16,
    ),
}


def active_profile() -> str:
    """Name of the profile chosen by LLMCOURSE_PROFILE (default: full). Taught in chapter 1."""
    name = os.environ.get(PROFILE_ENV, "full").strip().lower() or "full"
    if name not in PROFILES:
        raise ValueError(f"环境变量 {PROFILE_ENV}={name!r} 无效：可选值为 {', '.join(PROFILES)}")
    return name


def sizes(profile: str | None = None) -> RunSizes:
    """Run sizes of `profile`, or of the active profile when None. Taught in chapter 1."""
    name = active_profile() if profile is None else profile
    if name not in PROFILES:
        raise ValueError(f"未知的运行规模 {name!r}：可选值为 {', '.join(PROFILES)}")
    return PROFILES[name]


def resolve_seed(seed: int | None = None) -> int:
    """`seed`, or when None the book's seed: LLMCOURSE_SEED, default 42.

    Every function of the package that takes a seed defaults to this value, so the
    whole book can be built under another seed (`LLMCOURSE_SEED=7 make book`) and
    its sentences, computed from the numbers, must stay true. Taught in chapter 1.
    """
    if seed is not None:
        return int(seed)
    raw = os.environ.get(SEED_ENV, "").strip()
    if not raw:
        return DEFAULT_SEED
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 0 <= value < 2**32:
        raise ValueError(f"环境变量 {SEED_ENV}={raw!r} 无效：应为 0 到 4294967295 之间的整数")
    return value


def set_seed(seed: int | None = None, tensorflow: bool | None = None) -> None:
    """Seed Python, NumPy and TensorFlow/Keras, and make TF ops deterministic.

    None means the book's seed (`resolve_seed`).

    TensorFlow is seeded when `tensorflow` is True, or when None and it is
    already imported (so the text-only chapters do not pay for importing it). Taught in chapter 1.
    """
    seed = resolve_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    if tensorflow is None:
        tensorflow = "tensorflow" in sys.modules
    if not tensorflow:
        return
    import keras  # deferred on purpose: only chapters that train pay for importing TensorFlow
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def import_tensorflow():
    """Import TensorFlow with its start-up chatter (oneDNN, CUDA probing) kept off stderr.

    TF 2.20+ writes these lines through absl before TF_CPP_MIN_LOG_LEVEL is read,
    so file descriptor 2 is pointed at /dev/null during the import and the
    first device query. Errors still raise normally. Taught in chapter 3.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (some notebook front-ends)
        import tensorflow as tf  # deferred on purpose: importing TensorFlow is this function's job

        return tf
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return tf
