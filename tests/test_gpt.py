"""The miniature GPT (chapter 8): attention against NumPy, the causal mask, cached generation,
saving, the three tokenizers and the `generate` command, on real reviews."""

import io
import json
import math
import sys

import numpy as np
import pytest

from llmcourse import gpt, subword
from llmcourse.deploy import cli
from llmcourse.saving import ModelLoadError

TINY = dict(context=32, dim=16, depth=2, heads=2)


@pytest.fixture(scope="module")
def texts(small_reviews):
    return list(small_reviews.texts[:300])


@pytest.fixture(scope="module")
def trained(texts):
    """A tiny character GPT trained for 60 steps on 250 real reviews; the last 50 are held out."""
    tokenizer = subword.fit_tokenizer("char", texts[:250])
    shape = gpt.GPTConfig(len(tokenizer), **TINY)
    return gpt.GPTLanguageModel(tokenizer, shape, seed=3).fit(texts[:250], steps=60, batch_size=16, log_every=10)


@pytest.fixture(scope="module")
def saved(trained, tmp_path_factory):
    return trained.save(tmp_path_factory.mktemp("gpt"))


def test_numpy_attention_matches_the_keras_layer():
    rng = np.random.default_rng(0)
    layer = gpt.CausalSelfAttention(24, 3)
    layer.build((None, None, 24))
    for variable in layer.weights:  # random weights of a realistic size, not Keras' zero biases
        variable.assign(rng.normal(scale=0.3, size=variable.shape).astype("float32"))
    x = rng.normal(size=(2, 7, 24)).astype("float32")
    expected = gpt.reference_attention(
        x, layer.qkv.kernel.numpy(), layer.qkv.bias.numpy(), layer.proj.kernel.numpy(), layer.proj.bias.numpy(), 3
    )
    assert np.max(np.abs(layer(x).numpy() - expected)) < 1e-5


def test_no_position_sees_a_later_one(trained):
    ids = trained.tokenizer.prompt_ids("房间很干净，服务也很好")[None, :]
    changed = ids.copy()
    changed[0, 6:] = trained.tokenizer.unit_id("差")
    before, after = trained.model(ids).numpy(), trained.model(changed).numpy()
    assert np.allclose(before[0, :6], after[0, :6], atol=1e-6)
    assert not np.allclose(before[0, 6:], after[0, 6:], atol=1e-3)  # the change is seen from there on


def test_training_on_real_reviews_lowers_the_loss_below_a_uniform_guess(trained, texts):
    assert trained.log.loss[-1] < trained.log.loss[0] - 0.5
    assert trained.bits_per_char(texts[250:]) < math.log2(len(trained.tokenizer))


def test_cached_greedy_generation_equals_uncached(trained):
    for prompt in ("", "这家酒店", "书的内容"):
        cached = trained.generate_ids(prompt, max_tokens=20, temperature=0, use_cache=True)
        plain = trained.generate_ids(prompt, max_tokens=20, temperature=0, use_cache=False)
        assert cached == plain


def test_sampling_is_seeded_and_top_k_one_is_greedy(trained):
    a = trained.generate("房间", max_tokens=15, temperature=1.0, seed=5)
    assert a == trained.generate("房间", max_tokens=15, temperature=1.0, seed=5)
    assert trained.generate("房间", max_tokens=15, temperature=1.3, top_k=1, seed=9) == trained.generate(
        "房间", max_tokens=15, temperature=0
    )


def test_generation_stops_at_the_context(trained):
    ids = trained.generate_ids("好" * 20, max_tokens=1000, temperature=1.0, seed=1)
    assert len(ids) <= TINY["context"] - 21


@pytest.mark.parametrize(
    "kwargs", [{"max_tokens": 0}, {"temperature": -1.0}, {"temperature": float("nan")}, {"top_k": 0}]
)
def test_bad_sampling_settings_are_refused(trained, kwargs):
    with pytest.raises(ValueError, match="必须"):
        trained.generate("好", **kwargs)


def test_save_and_load_give_identical_next_token_probabilities(trained, saved):
    loaded = gpt.load_lm(saved)
    for prefix in ("", "服务", "这本书写得"):
        assert np.array_equal(trained.distribution(prefix), loaded.distribution(prefix))
    assert abs(trained.distribution("服务").sum() - 1) < 1e-6


def damage(directory, name, change):
    path = directory / name
    state = json.loads(path.read_text(encoding="utf-8"))
    change(state)
    path.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")


@pytest.mark.parametrize(
    "name, change, field",
    [
        ("config.json", lambda s: s.update(format="llmcourse.model/1"), "format"),
        ("config.json", lambda s: s["architecture"].update(dim=17), "dim"),
        ("config.json", lambda s: s["architecture"].update(depth=-1), "depth"),
        ("config.json", lambda s: s["architecture"].update(vocab_size=5), "vocab_size"),
        ("config.json", lambda s: s.update(tokenizer="bytes"), "tokenizer"),
        ("tokenizer.json", lambda s: s.update(kind="word"), "kind"),
        ("tokenizer.json", lambda s: s["counts"].update({"好": -1}), "counts"),
    ],
)
def test_a_damaged_language_model_is_refused_naming_the_field(saved, tmp_path, name, change, field):
    import shutil

    copy = shutil.copytree(saved, tmp_path / "copy")
    damage(copy, name, change)
    with pytest.raises(ModelLoadError, match=field):
        gpt.load_lm(copy)


def test_a_truncated_weights_file_is_refused(saved, tmp_path):
    import shutil

    copy = shutil.copytree(saved, tmp_path / "copy")
    data = (copy / gpt.WEIGHTS_FILE).read_bytes()
    (copy / gpt.WEIGHTS_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match="model.weights.h5"):
        gpt.load_lm(copy)


def test_the_three_tokenizers_on_the_same_text(texts):
    train, heldout = texts[:250], texts[250:]
    tokenizers = {kind: subword.fit_tokenizer(kind, train, 2500 if kind != "char" else None) for kind in subword.KINDS}
    table = subword.tokenizer_table(tokenizers, heldout).set_index("分词方式")
    tokens = table["每条评论的词元数"]
    assert tokens["char"] > tokens["sentencepiece"] and tokens["char"] > tokens["word"]
    assert table.loc["sentencepiece", "未登录的字"] < table.loc["word", "未登录的字"]
    piece = tokenizers["sentencepiece"]
    for text in heldout[:20]:  # byte fallback: every held-out review comes back exactly
        assert piece.decode(piece.target_ids(text)[:-1]) == subword.clean(text)


def test_a_sentencepiece_model_saves_and_loads(texts, tmp_path):
    tokenizer = subword.fit_tokenizer("sentencepiece", texts[:250], 2500)
    shape = gpt.GPTConfig(len(tokenizer), context=16, dim=8, depth=1, heads=2)
    model = gpt.GPTLanguageModel(tokenizer, shape, seed=1)
    model.save(tmp_path / "sp")
    loaded = gpt.load_lm(tmp_path / "sp")
    assert loaded.tokenizer.units("房间很干净") == tokenizer.units("房间很干净")
    assert np.array_equal(loaded.distribution("房间"), model.distribution("房间"))
    with pytest.raises(ValueError, match="sentencepiece"):
        subword.fit_tokenizer("sentencepiece", texts[:250], 100)  # fewer pieces than the characters needed
    (tmp_path / "sp" / subword.SENTENCEPIECE_FILE).write_bytes(b"not a model")
    with pytest.raises(ModelLoadError, match="tokenizer.model"):
        gpt.load_lm(tmp_path / "sp")


def run_cli(capsys, monkeypatch, argv):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b""), encoding="utf-8"))
    try:
        code = cli.main(argv)
    except SystemExit as exit_:
        code = exit_.code
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, out.out, out.err


def test_generate_continues_the_beginning(saved, capsys, monkeypatch):
    code, out, _ = run_cli(capsys, monkeypatch, ["generate", "--model", str(saved), "--temperature", "0", "房间"])
    assert code == 0 and out.startswith("房间")


@pytest.mark.parametrize(
    "extra, pattern",
    [
        (["--temperature", "-1"], "--temperature"),
        (["--temperature", "nan"], "--temperature"),
        (["--top-k", "0"], "--top-k"),
        (["--max-tokens", "0"], "--max-tokens"),
        (["--max-tokens", "100000"], "--max-tokens"),
    ],
)
def test_generate_refuses_bad_settings_with_exit_2(saved, capsys, monkeypatch, extra, pattern):
    code, _, err = run_cli(capsys, monkeypatch, ["generate", "--model", str(saved), *extra, "房间"])
    assert code == 2 and pattern in err.strip().splitlines()[-1]


def test_generate_refuses_a_missing_model_a_classifier_and_a_long_beginning(saved, tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(capsys, monkeypatch, ["generate", "--model", str(tmp_path / "none"), "好"])
    assert code == 2 and "找不到" in err
    classifier = tmp_path / "classifier"
    classifier.mkdir()
    (classifier / "config.json").write_text(json.dumps({"format": "llmcourse.model/1"}), encoding="utf-8")
    code, _, err = run_cli(capsys, monkeypatch, ["generate", "--model", str(classifier), "好"])
    assert code == 2 and "predict" in err
    code, _, err = run_cli(capsys, monkeypatch, ["generate", "--model", str(saved), "好" * 40])
    assert code == 2 and "开头" in err


# ---------------------------------------------------------------- chapter 8's experiments and exercises
from llmcourse import gptlab  # noqa: E402


def test_length_batches_cover_every_review_once_and_group_similar_lengths():
    lengths = np.array([5, 90, 6, 88, 30, 91, 31, 89])
    batches = gptlab.length_batches(lengths, 2)
    assert sorted(np.concatenate(batches)) == list(range(8))
    assert all(np.ptp(lengths[b]) <= 1 for b in batches)
    shuffled = gptlab.length_batches(lengths, 2, np.random.default_rng(0))
    assert sorted(np.concatenate(shuffled)) == list(range(8))


def test_the_prompt_threshold_is_the_best_cut_and_probabilities_keep_its_side():
    scores = np.array([-2.0, -1.0, 0.5, 1.0, 3.0])
    cut, accuracy = gptlab.best_threshold(scores, [0, 0, 1, 1, 1])
    assert accuracy == 1.0 and cut == 0.5
    p = gptlab._as_probability(scores - cut)
    assert list(p >= 0.5) == [False, False, True, True, True] and np.all((0 < p) & (p < 1))


def reference_attention_solution(x, wq, wk, wv):
    q, k, v = x @ wq, x @ wk, x @ wv
    scores = q @ k.T / np.sqrt(q.shape[1])
    scores = np.where(np.tril(np.ones(scores.shape, dtype=bool)), scores, -np.inf)
    w = np.exp(scores - scores.max(axis=1, keepdims=True))
    return w / w.sum(axis=1, keepdims=True) @ v


def test_the_attention_exercise_accepts_the_solution_and_names_the_mistakes():
    assert gptlab.check_causal_attention(reference_attention_solution, quiet=True)

    def unmasked(x, wq, wk, wv):
        q, k, v = x @ wq, x @ wk, x @ wv
        s = q @ k.T / np.sqrt(q.shape[1])
        w = np.exp(s - s.max(axis=1, keepdims=True))
        return w / w.sum(axis=1, keepdims=True) @ v

    def unscaled(x, wq, wk, wv):
        return reference_attention_solution(x, wq * 6**0.25, wk * 6**0.25, wv)

    result = gptlab.check_causal_attention(unmasked, quiet=True)
    assert not result and "掩码" in result.message
    result = gptlab.check_causal_attention(unscaled, quiet=True)
    assert not result and "√d" in result.message
    result = gptlab.check_causal_attention(lambda *a: 1 / 0, quiet=True)
    assert not result and "ZeroDivisionError" in result.message


def test_the_sampling_exercise_accepts_the_solution_and_rejects_a_forgotten_mask():
    def solution(logits, temperature, top_k):
        z = np.array(logits, dtype=np.float64)
        z[[0, 2]] = -np.inf
        z = z / temperature
        if top_k is not None and top_k < np.isfinite(z).sum():
            z[z < np.sort(z)[-top_k]] = -np.inf
        p = np.exp(z - z.max())
        return p / p.sum()

    def no_special_ids(logits, temperature, top_k):
        z = np.array(logits, dtype=np.float64) / temperature
        p = np.exp(z - z.max())
        return p / p.sum()

    assert gptlab.check_sampling_distribution(solution, quiet=True)
    result = gptlab.check_sampling_distribution(no_special_ids, quiet=True)
    assert not result and "填充" in result.message


def test_the_bits_exercise_accepts_the_formula_and_names_the_usual_mistakes(trained, texts):
    sample = texts[250:280]
    log_probs, tokens = trained.log_probs(sample)
    chars = sum(len(subword.clean(t)) + 1 for t in sample)
    assert gptlab.check_bits_per_char(-log_probs.sum() / chars / math.log(2), trained, sample, quiet=True)
    result = gptlab.check_bits_per_char(-log_probs.sum() / chars, trained, sample, quiet=True)
    assert not result and "ln 2" in result.message
    result = gptlab.check_bits_per_char(
        -log_probs.sum() / (chars - len(sample)) / math.log(2), trained, sample, quiet=True
    )
    assert not result and "结束符" in result.message
    assert not gptlab.check_bits_per_char("很少", trained, sample, quiet=True)


def test_continuation_and_next_token_log_probabilities_agree(trained):
    prefixes = ["房间很", "这本书", ""]
    one = trained.tokenizer.unit_id("好")
    by_continuation = trained.continuation_log_probs(prefixes, "好")
    by_distribution = trained.next_log_probs(prefixes)[:, one]
    assert np.allclose(by_continuation, by_distribution, atol=1e-5)
    two = trained.continuation_log_probs(prefixes, "好的")  # chain rule: P(好的) = P(好) P(的 | 好)
    after = trained.next_log_probs([p + "好" for p in prefixes])[:, trained.tokenizer.unit_id("的")]
    assert np.allclose(two, by_distribution + after, atol=1e-4)


def test_chapter_8_reads_chapter_6_s_lstm_with_chapter_6_s_settings():
    """gptlab.chapter6_lstm must hit the cache entry chapter 6 writes: the same literal settings."""
    from pathlib import Path

    cells = json.loads(Path("notebooks/06_applications.ipynb").read_text(encoding="utf-8"))["cells"]
    source = "".join("".join(cell["source"]) + "\n" for cell in cells if cell["cell_type"] == "code")
    import re

    found = re.findall(r"^(window|softmax_samples|learning_rate) = ([0-9.e-]+)", source, re.M)
    assert sorted((name, float(value)) for name, value in found) == sorted(gptlab.CHAPTER6_LSTM.items())
    assert "lm.cached_char_lstm(" in source and "train_texts, val_texts, epochs=sizes.lm_epochs" in source


def test_a_cached_lstm_comes_back_with_its_weights_and_log(texts, tmp_path, monkeypatch):
    from llmcourse import lm

    monkeypatch.setenv("LLMCOURSE_CACHE_DIR", str(tmp_path / "cache"))
    settings = dict(epochs=1, batch_size=16, learning_rate=1e-2, embedding_dim=8, hidden_units=8, window=16, seed=2)
    first, cached = lm.cached_char_lstm(texts[:80], texts[80:90], verbose=False, **settings)
    again, cached_again = lm.cached_char_lstm(texts[:80], texts[80:90], verbose=False, **settings)
    assert (cached, cached_again) == (False, True)
    assert again.log == first.log and again.vocab.counts == first.vocab.counts
    assert np.array_equal(again.distribution("房间"), first.distribution("房间"))


def test_prompt_scores_read_one_token_words_from_one_pass_and_agree_with_the_chain_rule(trained, texts, monkeypatch):
    # "好"/"差" are one character token each (the one-pass path), "满意"/"失望" two (the chain rule)
    monkeypatch.setattr(gptlab, "LABEL_WORDS", (("好", "差"), ("满意", "失望")))
    reviews = texts[250:270]
    scores = gptlab.prompt_scores(trained, reviews, "{review}总之，")
    prompts = [r + "总之，" for r in reviews]
    for positive, negative in gptlab.LABEL_WORDS:
        expected = trained.continuation_log_probs(prompts, positive) - trained.continuation_log_probs(prompts, negative)
        assert np.allclose(scores[(positive, negative)], expected, atol=1e-4)


def test_log_probs_are_reused_only_for_the_same_texts_and_weights(texts):
    tokenizer = subword.fit_tokenizer("char", texts[:100])
    model = gpt.GPTLanguageModel(tokenizer, gpt.GPTConfig(len(tokenizer), **TINY), seed=5)
    heldout = texts[250:260]
    first, counts = model.log_probs(heldout)
    first[:] = 0.0  # the caller's copy: changing it changes nothing kept
    again, _ = model.log_probs(heldout)
    assert np.all(again < 0)
    other, _ = model.log_probs(heldout[:5])
    assert np.allclose(other, again[:5], atol=1e-5)
    weights = model.model.get_weights()
    model.model.set_weights([w * 1.5 for w in weights])  # new weights: scored again, not read back
    changed, _ = model.log_probs(heldout)
    assert not np.allclose(changed, again)
    model.fit(texts[:100], steps=3, batch_size=8)
    assert not np.allclose(model.log_probs(heldout)[0], changed)


def test_a_word_tokenizer_encodes_its_fitted_texts_as_a_fresh_cut_would(texts):
    fitted = subword.fit_tokenizer("word", texts[:100], 2000)
    fresh = subword.WordTokenizer.from_state(fitted.state(), fitted.speller)  # no remembered segmentation
    for review in texts[:100] + texts[250:260]:
        assert fitted.units(review) == fresh.units(review)
        assert np.array_equal(fitted.target_ids(review), fresh.target_ids(review))


def test_the_fine_tune_reads_only_the_configured_number_of_reviews(trained, texts, monkeypatch, tmp_path):
    import dataclasses

    from llmcourse import cache, data

    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    labels = [int(i % 2) for i in range(len(texts))]
    split = lambda a, b: data.LabeledTexts(texts[a:b], labels[a:b])  # noqa: E731
    splits = data.Splits(split(0, 60), split(250, 270), split(270, 290))
    sizes = dataclasses.replace(gptlab.gpt_sizes("quick"), finetune_reviews=24)
    adapted = gptlab.finetuned(trained, splits, sizes)
    assert adapted.detail["reviews"] == 24
    assert adapted.val_probabilities.shape == (20,) and adapted.test_probabilities.shape == (20,)


def test_the_compiled_training_step_is_deterministic(texts):
    """The full-softmax step is compiled with XLA; the same seed must still give the same weights."""
    tokenizer = subword.fit_tokenizer("char", texts[:120])
    shape = gpt.GPTConfig(len(tokenizer), **TINY)

    def weights():
        model = gpt.GPTLanguageModel(tokenizer, shape, seed=5)
        model.fit(texts[:120], steps=8, batch_size=8, softmax_samples=None, final_lr_fraction=1.0)
        assert model.training["final_lr_fraction"] == 1.0
        return model.model.get_weights()

    assert all(np.array_equal(a, b) for a, b in zip(weights(), weights()))


@pytest.mark.parametrize("profile", ["full", "quick"])
def test_the_scaling_curve_shares_its_smallest_model_with_the_tokenizer_comparison(profile):
    sizes = gptlab.gpt_sizes(profile)
    assert sizes.scaling[0] == sizes.tokenizer_size and sizes.scaling_steps == sizes.tokenizer_steps
    assert sizes.scaling[-1] == (sizes.dim, sizes.depth) and sizes.steps >= sizes.scaling_steps


def test_the_rate_warms_up_then_stays_or_falls_to_the_final_fraction():
    constant, falling = gpt.warmup_cosine(5e-3, 100, 10, 1.0), gpt.warmup_cosine(5e-3, 100, 10, 0.1)
    assert math.isclose(float(constant(0)), 5e-4, rel_tol=1e-5) and math.isclose(
        float(constant(10)), 5e-3, rel_tol=1e-5
    )
    assert all(math.isclose(float(constant(step)), 5e-3, rel_tol=1e-5) for step in (30, 60, 100))
    assert math.isclose(float(falling(100)), 5e-4, rel_tol=1e-5) and float(falling(60)) < float(falling(30)) < 5e-3
