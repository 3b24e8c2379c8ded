"""Every exercise check accepts the reference solution and rejects typical mistakes, with a hint."""

import json
import math
import re
import types
from pathlib import Path

import numpy as np
import pytest

from llmcourse import baselines, data, exercises, ngram, text

ROOT = Path(__file__).resolve().parents[1]


def rejected(result, *words):
    """The check failed and its message mentions every word in `words`."""
    assert isinstance(result, exercises.CheckResult)
    assert not result.passed, result.message
    for word in words:
        assert word in result.message, result.message
    return True


def accepted(result):
    assert isinstance(result, exercises.CheckResult)
    assert result.passed and bool(result), result.message
    return True


def test_result_prints_a_friendly_message(capsys):
    result = exercises.check_ch1_long_share({"正面": "很多", "负面": 0.1})
    out = capsys.readouterr().out
    assert "❌ 练习 ch1-ex2" in out and out.strip() == result.message
    assert repr(result) == "CheckResult('ch1-ex2', passed=False)"
    exercises.check_ch1_long_share({}, quiet=True)
    assert capsys.readouterr().out == ""


def test_checked_exercises_exist_in_the_notebooks():
    """A check must point at an exercise that exists (and asks for code)."""
    labels = {}
    for path in ROOT.glob("notebooks/*.ipynb"):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            source = "".join(cell["source"])
            for label in re.findall(r"^:label:\s*(ch\d+-ex\d+)", source, re.M):
                if "{exercise}" in source:
                    labels[label] = source
    for label in exercises.CHECKS:
        if label.startswith(tuple(f"ch{n}-" for n in range(1, 6))) and label in labels:
            assert "```python" in labels[label] or "代码" in labels[label]
    chapters_present = {int(p.name[:2]) for p in ROOT.glob("notebooks/0*.ipynb")}
    for label in exercises.CHECKS:
        chapter = int(label[2:].split("-")[0])
        if chapter in chapters_present:
            assert label in labels, f"{label} 有检查函数，但笔记本中没有这道练习（编号改了？）"


# ---------------------------------------------------------------- chapter 1


def student_ch1(reviews, compare=lambda lengths: lengths > 200):
    share_by_label = {}
    for label in data.LABEL_NAMES:
        lengths = np.array([len(t) for t, lab in zip(reviews.texts, reviews.labels) if lab == label])
        share_by_label[label] = (compare(lengths)).mean()
    return share_by_label


def test_ch1_accepts_the_solution(reviews):
    assert accepted(exercises.check_ch1_long_share(student_ch1(reviews), quiet=True))
    by_name = {data.LABEL_NAMES[k]: v for k, v in student_ch1(reviews).items()}
    assert accepted(exercises.check_ch1_long_share(by_name, quiet=True))
    rounded = {k: round(v, 3) for k, v in by_name.items()}
    assert accepted(exercises.check_ch1_long_share(rounded, quiet=True))


def test_ch1_rejects_mistakes(reviews):
    right = student_ch1(reviews)
    check = exercises.check_ch1_long_share
    assert rejected(check({k: 100 * v for k, v in right.items()}, quiet=True), "百分数")
    assert rejected(check(student_ch1(reviews, lambda a: a >= 200), quiet=True), ">=")
    swapped = {data.POSITIVE: right[data.NEGATIVE], data.NEGATIVE: right[data.POSITIVE]}
    assert rejected(check(swapped, quiet=True), "对调")
    assert rejected(check({data.POSITIVE: right[data.POSITIVE]}, quiet=True), "缺少")
    assert rejected(check({k: v + 0.05 for k, v in right.items()}, quiet=True), "偏大")
    assert rejected(check([0.1, 0.2], quiet=True), "字典")


# ---------------------------------------------------------------- chapter 2


@pytest.fixture(scope="module")
def small_lm():
    train, heldout = ngram.lm_splits(seed=42, max_reviews=800)
    return ngram.CharNgramLM(order=3).fit(train), heldout[:40]


def student_ch2(lm, texts, eos=True, context_shift=0, sign=-1):
    total_log_prob, count = 0.0, 0
    for review in texts:
        for i, ch in enumerate(list(review) + ([ngram.EOS_TOKEN] if eos else [])):
            total_log_prob += math.log(lm.prob(ch, review[: i + context_shift]))
            count += 1
    return math.exp(sign * total_log_prob / count)


def test_ch2_accepts_the_solution(small_lm):
    lm, texts = small_lm
    result = exercises.check_ch2_perplexity(student_ch2(lm, texts), lm, texts, quiet=True)
    assert accepted(result) and "一致" in result.message
    assert accepted(exercises.check_ch2_perplexity(lm.perplexity(texts), lm, texts, quiet=True))


def test_ch2_rejects_mistakes(small_lm):
    lm, texts = small_lm
    check = exercises.check_ch2_perplexity
    assert rejected(check(student_ch2(lm, texts, eos=False), lm, texts, quiet=True), "结束符")
    assert rejected(check(student_ch2(lm, texts, sign=1), lm, texts, quiet=True), "负号")
    assert rejected(check(student_ch2(lm, texts, context_shift=1), lm, texts, quiet=True), "review[:i]")
    assert rejected(check(float("nan"), lm, texts, quiet=True), "有限的数")
    assert rejected(check(1.1 * student_ch2(lm, texts), lm, texts, quiet=True), "偏大")


# ---------------------------------------------------------------- chapter 3


def ch3_model(token_lists, **options):
    from gensim.models import Word2Vec

    settings = dict(vector_size=50, window=5, min_count=2, workers=1, seed=42)
    settings.update(options)
    return Word2Vec(token_lists, **settings)


@pytest.fixture(scope="module")
def ch3_tokens():
    import jieba

    stopwords = text.load_stopwords()
    return [
        text.remove_stopwords(jieba.lcut(text.normalize_text(r)), stopwords) for r in data.load_reviews().texts[:2000]
    ]


def test_ch3_accepts_the_solution(ch3_tokens):
    assert accepted(exercises.check_ch3_word2vec(ch3_model(ch3_tokens), quiet=True))


def test_ch3_rejects_mistakes(ch3_tokens):
    check = exercises.check_ch3_word2vec
    assert rejected(check(ch3_model(ch3_tokens, vector_size=100), quiet=True), "vector_size")
    flat = [w for tokens in ch3_tokens for w in tokens]
    assert rejected(check(ch3_model(flat[:30000]), quiet=True), "词列表")
    no_negations = text.load_stopwords(keep=())
    stripped = [[w for w in tokens if w not in no_negations] for tokens in ch3_tokens]
    assert rejected(check(ch3_model(stripped), quiet=True), "否定词")
    assert rejected(check("model", quiet=True), "Word2Vec")


# ---------------------------------------------------------------- chapter 4


def test_ch4_accepts_the_solution():
    assert accepted(exercises.check_ch4_gru_forward(exercises._ch4_gru_forward, quiet=True))


def test_ch4_rejects_mistakes():
    check = exercises.check_ch4_gru_forward
    ref = exercises._ch4_gru_forward
    assert rejected(check(lambda *w: ref(*w, reset_after=False), quiet=True), "reset_after")
    assert rejected(check(lambda *w: ref(*w, swap_update=True), quiet=True), "对调")
    assert rejected(check(lambda *w: ref(*w, order="rzh"), quiet=True), "z、r、h")
    assert rejected(check(lambda *w: ref(*w, recurrent_bias_inside=False), quiet=True), "b_hh")
    assert rejected(check(lambda *w: ref(*w)[:, -1], quiet=True), "最后一步")
    assert rejected(check(lambda *w: 1 / 0, quiet=True), "ZeroDivisionError")
    assert rejected(check(lambda *w: ref(*w) + 1e-3, quiet=True), "应小于 1e-5")
    assert rejected(check(ref(*exercises._ch4_case()[0:1], *exercises._ch4_case()[1]), quiet=True), "函数本身")


# ---------------------------------------------------------------- chapter 5


@pytest.fixture(scope="module")
def ch5_run():
    """Real test reviews, their jieba tokens and two real classifiers' probabilities."""
    splits = data.split_dataset(data.load_reviews().sample(1500, seed=3), seed=3)
    prepared = types.SimpleNamespace(
        tokens={"test": [text.segment(t) for t in splits.test.texts]},
        y={"test": np.asarray(splits.test.labels)},
    )
    results = {}
    for kind, stand_in in (("bilstm", "tfidf-word"), ("tfidf-char", "tfidf-char")):
        model = baselines.TfidfClassifier(stand_in).fit(splits.train.texts, splits.train.labels)
        results[kind] = types.SimpleNamespace(test_probabilities=model.predict_proba(splits.test.texts))
    return prepared, results


def student_ch5(prepared, results, use_mask=True):
    accuracies = {}
    lengths = np.array([len(t) for t in prepared.tokens["test"]])
    groups = {"短": lengths <= 20, "中": (lengths > 20) & (lengths <= 60), "长": lengths > 60}
    for name, mask in groups.items():
        for kind in ["bilstm", "tfidf-char"]:
            prob = results[kind].test_probabilities[mask] if use_mask else results[kind].test_probabilities
            y = prepared.y["test"][mask] if use_mask else prepared.y["test"]
            accuracies[name, kind] = float(np.mean((prob >= 0.5) == (y == 1)))
    return accuracies


def test_ch5_accepts_the_solution(ch5_run):
    prepared, results = ch5_run
    answer = student_ch5(prepared, results)
    assert accepted(exercises.check_ch5_length_groups(answer, prepared, results, quiet=True))
    nested = {}
    for (group, kind), acc in answer.items():
        nested.setdefault(group, {})[kind] = acc
    assert accepted(exercises.check_ch5_length_groups(nested, prepared, results, quiet=True))


def test_ch5_rejects_mistakes(ch5_run):
    prepared, results = ch5_run
    check = exercises.check_ch5_length_groups
    right = student_ch5(prepared, results)
    assert rejected(check(student_ch5(prepared, results, use_mask=False), prepared, results, quiet=True), "[mask]")
    assert rejected(check({k: 1 - v for k, v in right.items()}, prepared, results, quiet=True), "错误率")
    assert rejected(check({k: v for k, v in right.items() if k[0] != "长"}, prepared, results, quiet=True), "缺少")
    assert rejected(check({("很长", "bilstm"): 0.5}, prepared, results, quiet=True), "很长")
