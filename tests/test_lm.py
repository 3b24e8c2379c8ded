"""The character-level LSTM language model (llmcourse.lm), on real reviews."""

import math

import numpy as np
import pytest

from llmcourse import lm, ngram


@pytest.fixture(scope="module")
def texts():
    """Train and held-out texts of a stratified sample of 800 real reviews."""
    return ngram.lm_splits(seed=42, max_reviews=800)


def small_lm(**kwargs):
    args = dict(embedding_dim=16, hidden_units=32, window=32, softmax_samples=256, seed=3)
    args.update(kwargs)
    return lm.CharLSTMLM(**args)


@pytest.fixture(scope="module")
def untrained(texts):
    return small_lm().fit(texts[0], epochs=0, verbose=False)


@pytest.fixture(scope="module")
def trained(texts):
    return small_lm().fit(texts[0], epochs=3, batch_size=32, learning_rate=1e-2, verbose=False)


def test_symbols_are_those_of_the_ngram_model(texts, trained):
    """Same symbols as CharNgramLM on the same texts: the perplexities are comparable."""
    assert trained.symbols() == trained.vocab.symbols()
    assert set(trained.symbols()) == set(ngram.CharNgramLM(order=1).fit(texts[0]).symbols())
    assert trained.symbols()[-2:] == [lm.EOS_TOKEN, lm.UNK_TOKEN]


@pytest.mark.parametrize("context", ["", "房间", "这本书的作者写得", "龘龘", "价格：１２３元"])
def test_distributions_sum_to_one(trained, context):
    p = trained.distribution(context)
    assert p.shape == (len(trained.symbols()),)
    assert abs(p.sum() - 1.0) < 1e-4
    assert (p > 0).all()


def test_log_prob_is_the_chain_of_conditional_probabilities(trained):
    text = "房间很干净"
    chained = sum(math.log(trained.prob(ch, text[:i])) for i, ch in enumerate(list(text) + [lm.EOS_TOKEN]))
    log_p, n = trained.log_prob(text)
    assert n == len(text) + 1  # every character and the end-of-text symbol
    assert log_p == pytest.approx(chained, abs=1e-3)


def test_position_log_probs_are_the_distributions_of_every_prefix(trained):
    text = "房间很干净，服务也好😀"  # an unseen character too (read and scored as UNK_TOKEN)
    symbols = {s: i for i, s in enumerate(trained.symbols())}
    expected = [
        np.log(trained.distribution(text[:i])[symbols.get(text[i], symbols[lm.UNK_TOKEN])]) for i in range(len(text))
    ]
    assert np.allclose(trained.position_log_probs(text), expected, atol=1e-5)
    assert trained.position_log_probs("").shape == (0,)


def test_batched_scoring_equals_one_text_at_a_time(texts, trained):
    heldout = texts[1][:12]
    together, lengths = trained.log_probs(heldout)
    alone = [trained.log_prob(t) for t in heldout]
    np.testing.assert_allclose(together, [lp for lp, _ in alone], rtol=1e-4)
    assert lengths.tolist() == [len(t) + 1 for t in heldout]
    ppl = math.exp(-together.sum() / lengths.sum())
    assert trained.perplexity(heldout) == pytest.approx(ppl)


def test_training_lowers_heldout_perplexity(texts, untrained, trained):
    before = untrained.perplexity(texts[1])
    after = trained.perplexity(texts[1])
    assert before > 0.5 * len(untrained.symbols())  # an untrained model is close to uniform
    assert after < 0.6 * before
    assert trained.log.loss[-1] < trained.log.loss[0]


def test_rare_characters_are_read_as_unk(trained):
    vocab = trained.vocab
    rare = [ch for ch in vocab.chars if vocab.counts[ch] < vocab.min_input_count]
    common = vocab.chars[0]
    assert rare, "the small training set should have characters seen only once"
    assert vocab.input_id(vocab.index[rare[0]]) == vocab.UNK_ID
    assert vocab.input_id(vocab.index[common]) == vocab.index[common]
    assert vocab.input_id(vocab.EOS_ID) == vocab.EOS_ID
    ids = vocab.target_ids(common + rare[0])
    assert vocab.input_ids(ids).tolist() == [vocab.EOS_ID] + [vocab.input_id(i) for i in ids[:-1]]


def test_unseen_characters_are_handled(trained):
    assert "龘" not in trained.vocab.index
    assert trained.prob("龘", "房间") == pytest.approx(trained.vocab.unk_probability)
    assert trained.prob(lm.UNK_TOKEN, "房间") == pytest.approx(trained.vocab.unk_probability)
    log_p, n = trained.log_prob("龘龘很好")
    assert math.isfinite(log_p) and n == 5
    assert trained.generate("龘", max_chars=10, seed=0).startswith("龘")


def test_generation_is_deterministic_for_a_seed(trained):
    a = trained.generate("这家酒店", max_chars=30, temperature=1.0, top_k=20, seed=7)
    b = trained.generate("这家酒店", max_chars=30, temperature=1.0, top_k=20, seed=7)
    assert a == b and a.startswith("这家酒店")
    assert len(a) <= len("这家酒店") + 30
    assert lm.UNK_TOKEN not in a and lm.EOS_TOKEN not in a
    others = {trained.generate("这家酒店", max_chars=30, temperature=1.5, seed=s) for s in range(5)}
    assert len(others) > 1


def test_step_by_step_generation_matches_the_full_model(trained):
    """Greedy generation (one LSTM step at a time) picks the argmax of distribution() each time."""
    prefix = "房间"
    greedy = trained.generate(prefix, max_chars=5, temperature=0)
    symbols = trained.symbols()
    for i in range(len(prefix), len(greedy)):
        p = trained.distribution(greedy[:i])
        p[symbols.index(lm.UNK_TOKEN)] = 0
        assert symbols[int(np.argmax(p))] == greedy[i]


def test_top_1_sampling_is_greedy(trained):
    greedy = trained.generate("房间", max_chars=20, temperature=0)
    assert trained.generate("房间", max_chars=20, temperature=0.7, top_k=1, seed=1) == greedy
    assert trained.generate("房间", max_chars=20, temperature=1.3, top_k=1, seed=2) == greedy


def test_training_log_and_messages(texts, capsys):
    model = small_lm().fit(texts[0][:150], epochs=2, batch_size=32, heldout=texts[1][:10], verbose=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("第 1/2 轮：训练损失") and "留出文本困惑度" in lines[1]
    assert len(model.log.loss) == len(model.log.epoch_seconds) == len(model.log.heldout_perplexity) == 2
    assert model.log.heldout_perplexity[-1] == pytest.approx(model.perplexity(texts[1][:10]))
    quiet = small_lm().fit(texts[0][:150], epochs=1, batch_size=32, verbose=False)
    assert capsys.readouterr().out == "" and quiet.log.heldout_perplexity == []


def test_same_seed_same_model(texts):
    a = small_lm().fit(texts[0][:200], epochs=1, batch_size=32, verbose=False)
    b = small_lm().fit(texts[0][:200], epochs=1, batch_size=32, verbose=False)
    assert a.perplexity(texts[1][:20]) == pytest.approx(b.perplexity(texts[1][:20]), rel=1e-6)


def test_bad_arguments_are_rejected(trained):
    with pytest.raises(RuntimeError, match="还没有训练"):
        lm.CharLSTMLM().distribution("好")
    with pytest.raises(ValueError, match="temperature"):
        trained.generate("好", temperature=-1)
    with pytest.raises(ValueError, match="一个字符"):
        trained.prob("很好", "")


def test_chapter_6_figures_draw_without_missing_glyphs():
    import warnings

    import matplotlib.pyplot as plt

    from llmcourse import plotting

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for ax in (
            plotting.plot_probability_histogram([0.1, 0.8, 0.9, 0.4], [0, 1, 1, 0]),
            plotting.plot_daily_share({"模型估计": [0.3, 0.6], "真实": [0.32, 0.58]}, alarm=0.5),
            plotting.plot_perplexity_curve([80.0, 60.0, 50.0], {"4 元语法": 53.6}),
        ):
            ax.figure.canvas.draw()
    plt.close("all")
