"""Checks for the exercises that ask for code, with the reference solutions beside them.

Each `check_*` function takes the student's answer (a value, a dict or a
function), compares it with a reference computed on the same real data, prints
a friendly message in Chinese and returns a `CheckResult` (truthy when the
answer is right). A wrong answer never raises: the message says what looks
wrong, without giving the expected numbers away.

    from llmcourse import exercises
    exercises.check_ch1_long_share(share_by_label)

The reference solutions are the private `_ch*` functions; the tests run every
check on them (accepted) and on typical mistakes (rejected). Chapters 6-9 have
no checks yet.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import traceback
from typing import Callable, Mapping

import jieba
import numpy as np
from gensim.models import Word2Vec

from llmcourse import config, data, evaluation, ngram, reference, text

# ---------------------------------------------------------------------------
# result


@dataclasses.dataclass
class CheckResult:
    """The verdict of one check: `passed`, and messages that explain it. Taught in chapter 1."""

    exercise: str
    passed: bool
    messages: list[str] = dataclasses.field(default_factory=list)

    def __bool__(self) -> bool:
        return self.passed

    @property
    def message(self) -> str:
        head = f"✅ 练习 {self.exercise}：通过！" if self.passed else f"❌ 练习 {self.exercise}：还不对。"
        return "\n".join([head, *(f"  · {m}" for m in self.messages)])

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:  # short: the check has already printed the message
        return f"CheckResult({self.exercise!r}, passed={self.passed})"


def _verdict(exercise: str, passed: bool, *messages: str, quiet: bool = False) -> CheckResult:
    result = CheckResult(exercise, passed, [m for m in messages if m])
    if not quiet:
        print(result.message)
    return result


def _error_message(error: BaseException) -> str:
    frame = traceback.extract_tb(error.__traceback__)[-1:] if error.__traceback__ else []
    where = f"（第 {frame[0].lineno} 行：{frame[0].line}）" if frame and frame[0].line else ""
    return f"运行你的代码时出错：{type(error).__name__}: {error}{where}"


def _is_number(value: object) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _close(a: float, b: float, rel: float = 1e-6, abs_: float = 1e-9) -> bool:
    return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=abs_)


# ---------------------------------------------------------------------------
# chapter 1, exercise 2: share of reviews longer than 200 characters

LONG_REVIEW_CHARS = 200


@functools.lru_cache(maxsize=1)
def _reviews():
    return data.load_reviews()


def _ch1_long_share(threshold: int = LONG_REVIEW_CHARS) -> dict[int, float]:
    """Reference: share of deduplicated reviews longer than `threshold` characters, per label."""
    reviews = _reviews()
    shares = {}
    for label in data.LABEL_NAMES:
        lengths = np.array([len(t) for t, lab in zip(reviews.texts, reviews.labels) if lab == label])
        shares[label] = float((lengths > threshold).mean())
    return shares


def _ch1_mistakes(threshold: int) -> dict[str, dict[int, float]]:
    """What typical wrong answers give, with the hint for each."""
    reviews = _reviews()
    labels = list(data.LABEL_NAMES)
    by_label = {lab: np.array([len(t) for t, y in zip(reviews.texts, reviews.labels) if y == lab]) for lab in labels}
    n_long = sum(int((a > threshold).sum()) for a in by_label.values())
    raw_lines = data.read_raw_lines()
    raw = {lab: np.array([len(t) for t, label in raw_lines if label == lab]) for lab in labels}
    right = _ch1_long_share(threshold)
    return {
        "“超过 200 个字”不包括正好 200 个字：比较时用 >，不是 >=。": {
            lab: float((a >= threshold).mean()) for lab, a in by_label.items()
        },
        "正面和负面的比例对调了：检查 label 与 name 的对应关系（data.LABEL_NAMES）。": {
            labels[0]: right[labels[1]],
            labels[1]: right[labels[0]],
        },
        "分母应当是这一类评论的条数，而不是全部评论的条数。": {
            lab: float((a > threshold).sum() / len(reviews)) for lab, a in by_label.items()
        },
        "分母应当是这一类评论的条数，而不是所有长评论的条数。": {
            lab: float((a > threshold).sum() / n_long) for lab, a in by_label.items()
        },
        "题目要统计去重后的评论（data.load_reviews()），你用的像是没有去重的原始行。": {
            lab: float((a > threshold).mean()) for lab, a in raw.items()
        },
    }


def _normalise_labels(answer: Mapping) -> tuple[dict[int, object], str]:
    by_name = {name: label for label, name in data.LABEL_NAMES.items()}
    out = {}
    for key, value in answer.items():
        if key in data.LABEL_NAMES:
            out[int(key)] = value
        elif key in by_name:
            out[by_name[key]] = value
        else:
            return (
                {},
                f"不认识的键 {key!r}：请用标签（{', '.join(map(str, data.LABEL_NAMES))}）或类别名（{', '.join(by_name)}）作键。",
            )
    missing = [data.LABEL_NAMES[lab] for lab in data.LABEL_NAMES if lab not in out]
    if missing:
        return {}, f"缺少这些类别的比例：{'、'.join(missing)}。"
    return out, ""


def check_ch1_long_share(share_by_label: Mapping, quiet: bool = False) -> CheckResult:
    """Chapter 1, exercise 2: {label or class name: share of reviews longer than 200 characters}.

    Collect your answer in the loop, e.g. `share_by_label[label] = share`.
    Taught in chapter 1.
    """
    exercise = "ch1-ex2"
    if not isinstance(share_by_label, Mapping):
        return _verdict(
            exercise,
            False,
            "请传入一个字典，例如 {1: 正面的比例, 0: 负面的比例}（键也可以是“正面”“负面”）。",
            quiet=quiet,
        )
    answer, problem = _normalise_labels(share_by_label)
    if problem:
        return _verdict(exercise, False, problem, quiet=quiet)
    if not all(_is_number(v) for v in answer.values()):
        return _verdict(exercise, False, "每个比例都应当是一个数（例如 0.05），不是数组或字符串。", quiet=quiet)
    answer = {k: float(v) for k, v in answer.items()}
    right = _ch1_long_share()
    if all(_close(answer[k], right[k]) for k in right):
        return _verdict(
            exercise,
            True,
            "两类评论中长评论的比例都算对了。比较一下两个数：它们和两类的中位数说的是同一件事吗？",
            quiet=quiet,
        )
    if all(_close(answer[k] / 100, right[k], rel=1e-3, abs_=1e-4) for k in right):
        return _verdict(
            exercise, False, "看起来你给的是百分数。请给 0～1 之间的比例（打印时再用 :.1% 格式化）。", quiet=quiet
        )
    for hint, values in _ch1_mistakes(LONG_REVIEW_CHARS).items():
        if all(_close(answer[k], values[k]) for k in right):
            return _verdict(exercise, False, hint, quiet=quiet)
    if all(abs(answer[k] - right[k]) <= 5e-4 for k in right):
        return _verdict(exercise, True, "数值正确（在四舍五入的误差以内）。", quiet=quiet)
    notes = []
    for k in right:
        if abs(answer[k] - right[k]) > 5e-4:
            notes.append(f"{data.LABEL_NAMES[k]}评论的比例{'偏大' if answer[k] > right[k] else '偏小'}。")
    notes.append(
        "提示：lengths 是这一类每条评论的字数（len(文本)），share 是其中大于 200 的比例，例如 (lengths > 200).mean()。"
    )
    return _verdict(exercise, False, *notes, quiet=quiet)


# ---------------------------------------------------------------------------
# chapter 2, exercise 2: perplexity from prob() alone


def _ch2_perplexity(lm, texts) -> float:
    """Reference: perplexity of `lm` on `texts` from prob(char, context), one end symbol per text."""
    total_log_prob, count = 0.0, 0
    for review in texts:
        for i, ch in enumerate(list(review) + [ngram.EOS_TOKEN]):
            total_log_prob += math.log(lm.prob(ch, review[:i]))
            count += 1
    return math.exp(-total_log_prob / count)


def _ch2_mistakes(lm, texts) -> dict[str, float]:
    logs, logs_no_eos, per_text = [], [], []
    for review in texts:
        row = [math.log(lm.prob(ch, review[:i])) for i, ch in enumerate(list(review) + [ngram.EOS_TOKEN])]
        logs.extend(row)
        logs_no_eos.extend(row[:-1])
        per_text.append(math.exp(-sum(row) / len(row)))
    mean = sum(logs) / len(logs)
    shifted = []
    for review in texts:
        for i, ch in enumerate(list(review) + [ngram.EOS_TOKEN]):
            shifted.append(math.log(lm.prob(ch, review[: i + 1])))
    hints = {
        "别忘了每条文本末尾的结束符 ngram.EOS_TOKEN：它也要预测，也要计数。": math.exp(
            -sum(logs_no_eos) / max(len(logs_no_eos), 1)
        ),
        "困惑度是 exp(−平均对数概率)：你好像漏了负号。": math.exp(mean),
        "用 math.log（自然对数）求对数概率，再用 math.exp 还原；两者的底数要一致。": math.exp(-mean / math.log(10)),
        "用 math.log（自然对数）求对数概率，再用 math.exp 还原；两者的底数要一致（这里像是用了 log2）。": math.exp(
            -mean / math.log(2)
        ),
        "平均要按字（符号）算，而不是先算每条文本的困惑度再平均。": sum(per_text) / len(per_text),
        "前文应当是这个字之前的文字 review[:i]，不能包含这个字本身。": math.exp(-sum(shifted) / len(shifted)),
        "count 应当数被预测的符号个数，不是文本条数。": math.exp(-sum(logs) / len(texts))
        if len(texts)
        else float("nan"),
    }
    return hints


def check_ch2_perplexity(my_ppl: float, lm, texts, quiet: bool = False) -> CheckResult:
    """Chapter 2, exercise 2: `my_ppl` computed with `lm.prob` on `texts` (e.g. heldout_texts[:100]).

    Taught in chapter 2.
    """
    exercise = "ch2-ex2"
    if not hasattr(lm, "prob"):
        return _verdict(exercise, False, "第二个参数应当是本章训练好的模型 lm（ngram.CharNgramLM）。", quiet=quiet)
    texts = list(texts)
    if not texts:
        return _verdict(
            exercise, False, "第三个参数应当是你计算困惑度用的文本，例如 heldout_texts[:100]。", quiet=quiet
        )
    if not _is_number(my_ppl):
        return _verdict(exercise, False, f"my_ppl 应当是一个有限的数，实际是 {my_ppl!r}。", quiet=quiet)
    my_ppl = float(my_ppl)
    right = _ch2_perplexity(lm, texts)
    if _close(my_ppl, right):
        same = _close(right, lm.perplexity(texts))
        return _verdict(exercise, True, "和 lm.perplexity 的结果一致。" if same else "", quiet=quiet)
    if my_ppl < 1:
        return _verdict(
            exercise, False, "困惑度不可能小于 1：检查负号，以及是不是把概率而不是对数概率加了起来。", quiet=quiet
        )
    for hint, value in _ch2_mistakes(lm, texts).items():
        if math.isfinite(value) and _close(my_ppl, value):
            return _verdict(exercise, False, hint, quiet=quiet)
    direction = "偏大" if my_ppl > right else "偏小"
    return _verdict(
        exercise,
        False,
        f"你的困惑度{direction}。对照 2.1.6 节的公式：PPL = exp(−(1/M)·Σ ln P(字 | 前文))，M 是包括结束符在内的被预测符号数。",
        quiet=quiet,
    )


# ---------------------------------------------------------------------------
# chapter 3, exercise 2: the article's preprocessing, fixed for gensim 4

W2V_REVIEWS = 2000
W2V_DIM = 50
W2V_PROBES = ("酒店", "房间", "书", "不错")  # words the reference vocabulary should hold


def _ch3_token_lists(n: int = W2V_REVIEWS) -> list[list[str]]:
    jieba.setLogLevel(60)
    stopwords = text.load_stopwords()  # negation, degree and contrast words are kept
    return [text.remove_stopwords(jieba.lcut(text.normalize_text(r)), stopwords) for r in _reviews().texts[:n]]


@functools.lru_cache(maxsize=1)
def _ch3_word2vec():
    """Reference: a 50-dimensional Word2Vec on the first 2,000 reviews, one token list per review."""
    return Word2Vec(
        _ch3_token_lists(), vector_size=W2V_DIM, window=5, min_count=2, workers=1, seed=config.resolve_seed()
    )


def check_ch3_word2vec(model, quiet: bool = False) -> CheckResult:
    """Chapter 3, exercise 2: the gensim 4 Word2Vec model you trained on the first 2,000 reviews.

    Taught in chapter 3.
    """
    exercise = "ch3-ex2"
    wv = getattr(model, "wv", model)
    if not hasattr(wv, "key_to_index") or not hasattr(wv, "vector_size"):
        return _verdict(exercise, False, "请传入 gensim 4 的 Word2Vec 模型（Word2Vec(...) 的返回值）。", quiet=quiet)
    problems = []
    if wv.vector_size != W2V_DIM:
        problems.append(
            f"词向量应为 {W2V_DIM} 维，你的是 {wv.vector_size} 维：gensim 4 里的参数名是 vector_size，不再是 size。"
        )
    keys = list(wv.key_to_index)
    single = sum(len(k) == 1 for k in keys) / max(len(keys), 1)
    corpus_count = getattr(model, "corpus_count", None)
    if corpus_count is not None and corpus_count > 2 * W2V_REVIEWS:
        problems.append(
            f"模型见到了 {corpus_count:,d} 个“句子”，而不是 {W2V_REVIEWS:,d} 条评论：Word2Vec 需要一个由词列表组成的列表"
            "（每条评论一个列表），传入扁平的词列表时，每个词都会被当作一个由单字组成的句子。"
        )
    elif single > 0.9:
        problems.append("词表几乎全是单字：传给 Word2Vec 的应当是每条评论的词列表，而不是字符串。")
    elif corpus_count is not None and corpus_count < W2V_REVIEWS // 2:
        problems.append(
            f"模型只见到了 {corpus_count:,d} 条评论，题目要求用前 {W2V_REVIEWS:,d} 条。"
            "如果你用了 jieba.cut，注意它返回的生成器只能读一次。"
        )
    solution = _ch3_word2vec()
    probes = [w for w in W2V_PROBES if w in solution.wv.key_to_index]
    absent = [w for w in probes if w not in wv.key_to_index]
    if absent and single <= 0.9:
        problems.append(f"词表里没有“{absent[0]}”：检查分词（jieba.lcut）和停用词表，或者 min_count 是否太大。")
    if len(keys) < 0.5 * len(solution.wv.key_to_index):
        problems.append(
            f"词表只有 {len(keys):,d} 个词，比预期少得多：停用词表是不是删掉了太多词？原文的停用词表会删光整句话。"
        )
    if "不" not in wv.key_to_index and single <= 0.9:
        problems.append("词表里没有“不”：否定词带着情感，不应当被停用词表删掉（text.load_stopwords() 默认保留它们）。")
    if problems:
        return _verdict(exercise, False, *problems, quiet=quiet)
    try:
        for word in probes[:1]:
            wv.most_similar(word, topn=5)
            _ = wv[word][:5]
    except Exception as error:  # noqa: BLE001 - report, never raise
        return _verdict(exercise, False, _error_message(error), quiet=quiet)
    shared = len(set(keys) & set(solution.wv.key_to_index)) / len(solution.wv.key_to_index)
    return _verdict(
        exercise,
        True,
        f"模型按 gensim 4 的用法训练（vector_size、model.wv[词]），词表与参考答案有 {shared:.0%} 相同。"
        "近邻的质量要看训练数据的多少，不必和参考答案一模一样。",
        quiet=quiet,
    )


# ---------------------------------------------------------------------------
# chapter 4, exercise 2: a GRU forward pass in NumPy


def _ch4_gru_forward(
    x,
    kernel,
    recurrent_kernel,
    bias,
    reset_after: bool = True,
    swap_update: bool = False,
    order: str = "zrh",
    recurrent_bias_inside: bool = True,
):
    """Reference GRU (Keras' default reset_after=True); the flags give typical wrong variants."""
    x = np.asarray(x, dtype=np.float64)
    n = recurrent_kernel.shape[0]
    b_x, b_h = np.asarray(bias, dtype=np.float64)  # (2, 3n): input biases, recurrent biases
    blocks = {name: slice(i * n, (i + 1) * n) for i, name in enumerate(order)}
    z_s, r_s, h_s = blocks["z"], blocks["r"], blocks["h"]
    h = np.zeros((x.shape[0], n))
    outputs = []
    for t in range(x.shape[1]):
        zx = x[:, t] @ kernel + b_x  # (B, 3n)
        zh = h @ recurrent_kernel + b_h  # (B, 3n)
        z = reference.sigmoid(zx[:, z_s] + zh[:, z_s])
        r = reference.sigmoid(zx[:, r_s] + zh[:, r_s])
        if reset_after:
            inner = zh[:, h_s] if recurrent_bias_inside else zh[:, h_s] - b_h[h_s]
            h_tilde = np.tanh(zx[:, h_s] + r * inner + (0 if recurrent_bias_inside else b_h[h_s]))
        else:
            h_tilde = np.tanh(zx[:, h_s] + (r * h) @ recurrent_kernel[:, h_s] + b_h[h_s])
        h = (1 - z) * h + z * h_tilde if swap_update else z * h + (1 - z) * h_tilde
        outputs.append(h)
    return np.stack(outputs, axis=1)  # (B, T, n)


@functools.lru_cache(maxsize=1)
def _ch4_case():
    """A small Keras GRU with random weights and biases, its input and its output."""
    config.import_tensorflow()  # deferred: only the chapter 4 check needs TensorFlow
    import keras  # deferred: after TensorFlow, quietly imported

    rng = np.random.default_rng(2024)
    batch, steps, d, n = 3, 7, 4, 5
    x = rng.normal(size=(batch, steps, d)).astype(np.float32)  # (批量大小, 时间步数, d)
    layer = keras.layers.GRU(n, return_sequences=True)
    layer.build((None, None, d))
    weights = [rng.normal(0.0, 0.5, size=w.shape).astype(np.float32) for w in layer.get_weights()]
    layer.set_weights(weights)  # random biases too: Keras starts them at 0, which hides bias mistakes
    expected = layer(x).numpy()  # (批量大小, 时间步数, n)
    return x, tuple(weights), expected


def check_ch4_gru_forward(gru_forward: Callable, quiet: bool = False) -> CheckResult:
    """Chapter 4, exercise 2: your `gru_forward(x, kernel, recurrent_kernel, bias)` against keras.layers.GRU.

    Taught in chapter 4.
    """
    exercise = "ch4-ex2"
    if not callable(gru_forward):
        return _verdict(exercise, False, "请传入函数本身（gru_forward），不要调用它。", quiet=quiet)
    x, weights, expected = _ch4_case()
    try:
        out = np.asarray(gru_forward(x.copy(), *(w.copy() for w in weights)), dtype=np.float64)
    except Exception as error:  # noqa: BLE001 - report, never raise
        return _verdict(exercise, False, _error_message(error), quiet=quiet)
    if out.shape != expected.shape:
        hint = ""
        if out.shape == expected[:, -1].shape:
            hint = "你好像只返回了最后一步的隐藏状态；题目要求每一步的输出，形状 (B, T, n)。"
        return _verdict(
            exercise,
            False,
            f"输出的形状应为 {expected.shape}（批量大小, 时间步数, n），实际为 {out.shape}。{hint}",
            quiet=quiet,
        )
    if not np.all(np.isfinite(out)):
        return _verdict(exercise, False, "输出里有 NaN 或无穷大。", quiet=quiet)
    diff = float(np.max(np.abs(out - expected)))
    if diff < 1e-5:
        return _verdict(exercise, True, f"与 keras.layers.GRU（随机权重和偏置）的最大差值 {diff:.1e}。", quiet=quiet)
    variants = {
        "重置门的位置不对：Keras 默认 reset_after=True，r 乘在 (h_{t-1} W_hh + b_hh) 上，而不是先把 r ⊙ h_{t-1} 乘上矩阵。": dict(
            reset_after=False
        ),
        "更新门的两项对调了：h_t = z ⊙ h_{t-1} + (1 − z) ⊙ h̃_t。": dict(swap_update=True),
        "三块的顺序是 z、r、h：前 n 列是更新门，中间 n 列是重置门。": dict(order="rzh"),
        "循环部分的偏置 b_hh 也要乘上重置门：r ⊙ (h_{t-1} W_hh + b_hh)。": dict(recurrent_bias_inside=False),
    }
    for hint, options in variants.items():
        if np.max(np.abs(out - _ch4_gru_forward(x, *weights, **options))) < 1e-5:
            return _verdict(exercise, False, hint, quiet=quiet)
    first_step = float(np.max(np.abs(out[:, 0] - expected[:, 0])))
    where = (
        "第一步就已经不同，先检查门和候选状态的公式。"
        if first_step >= 1e-5
        else "第一步是对的，之后才出现差别：检查 h 是否在每一步都更新，zh 是否用的是上一步的 h。"
    )
    return _verdict(exercise, False, f"与 keras.layers.GRU 的最大差值为 {diff:.2g}，应小于 1e-5。{where}", quiet=quiet)


# ---------------------------------------------------------------------------
# chapter 5, exercise 2: accuracy by review length

LENGTH_GROUPS = {"短": (0, 20), "中": (21, 60), "长": (61, None)}  # words, bounds included
CH5_KINDS = ("bilstm", "tfidf-char")


def _ch5_groups(prepared) -> dict[str, np.ndarray]:
    lengths = np.array([len(t) for t in prepared.tokens["test"]])
    return {
        name: (lengths >= lo) & (lengths <= (hi if hi is not None else np.inf))
        for name, (lo, hi) in LENGTH_GROUPS.items()
    }


def _ch5_length_groups(prepared, results, kinds=CH5_KINDS) -> dict[tuple[str, str], float]:
    """Reference: test accuracy of each model kind on short, medium and long reviews."""
    y = np.asarray(prepared.y["test"])
    out = {}
    for name, mask in _ch5_groups(prepared).items():
        for kind in kinds:
            prob = np.asarray(results[kind].test_probabilities)
            out[name, kind] = evaluation.compute_metrics(y[mask], prob[mask]).accuracy if mask.any() else float("nan")
    return out


def _flatten_groups(answer: Mapping) -> dict[tuple[str, str], object]:
    flat = {}
    for key, value in answer.items():
        if isinstance(value, Mapping):
            flat.update({(key, kind): v for kind, v in value.items()})
        elif isinstance(key, tuple) and len(key) == 2:
            flat[key] = value
        else:
            return {}
    return flat


def check_ch5_length_groups(accuracies: Mapping, prepared, results, quiet: bool = False) -> CheckResult:
    """Chapter 5, exercise 2: {(group, kind): accuracy}, e.g. {("短", "bilstm"): 0.91, ...}.

    Collect your answer in the loop with `accuracies[name, kind] = acc`
    (a nested {group: {kind: acc}} works too); pass the chapter's `prepared` and `results`.
    Taught in chapter 5.
    """
    exercise = "ch5-ex2"
    answer = _flatten_groups(accuracies) if isinstance(accuracies, Mapping) else {}
    if not answer:
        return _verdict(
            exercise, False, '请传入字典：键是 (组名, 模型), 例如 ("短", "bilstm")，值是这一组的准确率。', quiet=quiet
        )
    kinds = tuple(k for k in CH5_KINDS if any(kind == k for _, kind in answer))
    unknown = sorted({g for g, _ in answer} - set(LENGTH_GROUPS)) + sorted({k for _, k in answer} - set(CH5_KINDS))
    if unknown:
        return _verdict(
            exercise,
            False,
            f"不认识的组名或模型：{'、'.join(map(str, unknown))}；组名用 {'、'.join(LENGTH_GROUPS)}，模型用 {'、'.join(CH5_KINDS)}。",
            quiet=quiet,
        )
    right = _ch5_length_groups(prepared, results, kinds)
    expected_keys = {k for k, v in right.items() if not math.isnan(v)}
    missing = expected_keys - set(answer)
    if missing:
        listed = "、".join(f"{g}/{k}" for g, k in sorted(missing))
        return _verdict(exercise, False, f"缺少这些组的准确率：{listed}。", quiet=quiet)
    if not all(_is_number(answer[k]) for k in expected_keys):
        return _verdict(exercise, False, "每个准确率都应当是一个数（例如用 float(...) 转换）。", quiet=quiet)
    wrong = [k for k in sorted(expected_keys) if not _close(float(answer[k]), right[k], rel=1e-6, abs_=1e-4)]
    if not wrong:
        return _verdict(exercise, True, "每组的准确率都对。留意每组的样本数：组越小，准确率的波动越大。", quiet=quiet)
    y = np.asarray(prepared.y["test"])
    overall = {
        kind: float(np.mean((np.asarray(results[kind].test_probabilities) >= 0.5) == (y == 1))) for kind in kinds
    }
    if all(_close(float(answer[k]), overall[k[1]], abs_=1e-4) for k in wrong):
        return _verdict(
            exercise, False, "每组算出来都一样：计算准确率时，概率和标签都要用 [mask] 取出这一组。", quiet=quiet
        )
    if all(_close(float(answer[k]), 1 - right[k], abs_=1e-4) for k in wrong):
        return _verdict(
            exercise, False, "你算的是错误率：准确率是预测正确（prob ≥ 0.5 与标签为 1 一致）的比例。", quiet=quiet
        )
    listed = "、".join(f"{g}/{k}" for g, k in wrong)
    return _verdict(
        exercise,
        False,
        f"这些组的准确率不对：{listed}。先把概率变成预测（prob >= 0.5），"
        '再与 prepared.y["test"][mask] == 1 比较，取平均。',
        quiet=quiet,
    )


# ---------------------------------------------------------------------------

# How to call each check from the exercise's code: (what to add to the template, the call).
USAGE: dict[str, tuple[str, str]] = {
    "ch1-ex2": (
        "循环前写 share_by_label = {}，循环里加上 share_by_label[label] = share",
        "exercises.check_ch1_long_share(share_by_label)",
    ),
    "ch2-ex2": ("", "exercises.check_ch2_perplexity(my_ppl, lm, heldout_texts[:100])"),
    "ch3-ex2": ("把训练好的模型命名为 model", "exercises.check_ch3_word2vec(model)"),
    "ch4-ex2": ("", "exercises.check_ch4_gru_forward(gru_forward)"),
    "ch5-ex2": (
        "循环前写 accuracies = {}，循环里加上 accuracies[name, kind] = acc",
        "exercises.check_ch5_length_groups(accuracies, prepared, results)",
    ),
}

CHECKS: dict[str, Callable[..., CheckResult]] = {
    "ch1-ex2": check_ch1_long_share,
    "ch2-ex2": check_ch2_perplexity,
    "ch3-ex2": check_ch3_word2vec,
    "ch4-ex2": check_ch4_gru_forward,
    "ch5-ex2": check_ch5_length_groups,
}
