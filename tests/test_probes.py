"""The negation and contrast probe set: its size, balance, minimal pairs and helpers."""

import collections
import re

import pytest

from llmcourse import data, probes, text


def test_size_balance_and_domains():
    assert len(probes.PROBES) >= 130
    labels = collections.Counter(p.label for p in probes.PROBES)
    assert set(labels) == {data.NEGATIVE, data.POSITIVE}
    assert abs(labels[data.POSITIVE] - labels[data.NEGATIVE]) <= 10
    domains = collections.Counter(p.domain for p in probes.PROBES)
    assert set(domains) == set(probes.DOMAINS)
    assert min(domains.values()) >= 35


def test_fields_take_known_values():
    for p in probes.PROBES:
        assert p.domain in probes.DOMAINS and p.category in probes.CATEGORIES, p
        assert p.label in (data.NEGATIVE, data.POSITIVE), p
        assert 4 <= len(p.text) <= 25 and p.text == p.text.strip(), p
        assert (p.pair is not None) == (p.category in ("affirmed", "negated")), p
    categories = collections.Counter(p.category for p in probes.PROBES)
    assert set(categories) == set(probes.CATEGORIES)
    assert all(categories[c] >= 12 for c in ("double_negation", "contrast", "negation_no_flip", "hedged"))


def test_probes_are_frozen():
    with pytest.raises(AttributeError):
        probes.PROBES[0].label = 1 - probes.PROBES[0].label


def test_no_duplicates_and_no_overlap_with_the_chapter_3_probes():
    texts = [p.text for p in probes.PROBES]
    assert len(set(texts)) == len(texts)
    assert not set(texts) & {t for t, _ in text.NEGATION_PROBES}


def test_probes_are_not_copied_from_the_corpus(reviews):
    corpus = set(reviews.texts)
    assert not [p.text for p in probes.PROBES if p.text in corpus]


def test_every_pair_has_an_affirmed_and_a_negated_member():
    members = collections.defaultdict(list)
    for p in probes.PROBES:
        if p.pair is not None:
            members[p.pair].append(p)
    assert len(members) >= 50
    for pair, both in members.items():
        assert len(both) == 2, pair
        assert {p.category for p in both} == {"affirmed", "negated"}, pair
        assert both[0].label != both[1].label and both[0].domain == both[1].domain, pair
    assert len(probes.minimal_pairs()) == len(members)


def test_pairs_differ_only_by_a_negation():
    for affirmed, negated in probes.minimal_pairs():
        assert (affirmed.category, negated.category) == ("affirmed", "negated")
        removed, inserted = probes.pair_edit(affirmed.text, negated.text)
        # an insertion, or a negation in the place of 很 / 有
        assert removed in ("",) + probes.REPLACEABLE_WORDS, (affirmed.text, negated.text)
        assert inserted in probes.NEGATION_MARKERS, (affirmed.text, negated.text)
        assert any(m in negated.text for m in probes.NEGATION_MARKERS), negated.text
        assert inserted not in affirmed.text, (affirmed.text, inserted)


def test_pair_edit():
    assert probes.pair_edit("房间很干净", "房间不干净") == ("很", "不")
    assert probes.pair_edit("这本书让我失望", "这本书没有让我失望") == ("", "没有")
    assert probes.pair_edit("空调有异味", "空调没有异味") == ("", "没")
    assert probes.pair_edit("房间有霉味", "房间无霉味") == ("有", "无")


def test_probe_set_filters():
    everything = probes.probe_set()
    assert everything.texts == [p.text for p in probes.PROBES]
    assert everything.labels == [p.label for p in probes.PROBES]
    contrast = probes.probe_set(category="contrast")
    assert contrast.texts == [p.text for p in probes.PROBES if p.category == "contrast"]
    books = probes.probe_set(domain="book")
    assert len(books) == sum(p.domain == "book" for p in probes.PROBES)
    both = probes.probe_set(category="negated", domain="computer")
    expected = [p for p in probes.PROBES if p.category == "negated" and p.domain == "computer"]
    assert both.texts == [p.text for p in expected] and both.labels == [p.label for p in expected]
    assert isinstance(both, data.LabeledTexts) and len(both) == 18
    with pytest.raises(ValueError, match="类别"):
        probes.probe_set(category="sarcasm")
    with pytest.raises(ValueError, match="领域"):
        probes.probe_set(domain="phone")


def test_pair_accuracy_of_an_oracle_and_of_a_model_blind_to_negation():
    oracle = {p.text: float(p.label) for p in probes.PROBES}
    assert probes.pair_accuracy(oracle) == 1.0
    # one answer for both members of each pair: right on one of them, so never on both
    blind = {}
    for affirmed, negated in probes.minimal_pairs():
        blind[affirmed.text] = blind[negated.text] = 0.9 if affirmed.label == data.POSITIVE else 0.1
    assert probes.pair_accuracy(blind) == 0.0
    # one pair wrong on its negated member
    affirmed, negated = probes.minimal_pairs()[0]
    one_wrong = {**oracle, negated.text: float(affirmed.label)}
    assert probes.pair_accuracy(one_wrong) == pytest.approx(1 - 1 / len(probes.minimal_pairs()))
    # the threshold is 0.5, inclusive for the positive class
    at_threshold = {t: (0.5 if p == 1.0 else 0.49) for t, p in oracle.items()}
    assert probes.pair_accuracy(at_threshold) == 1.0


def test_pair_accuracy_names_a_missing_text():
    _, negated = probes.minimal_pairs()[3]
    partial = {p.text: 0.5 for p in probes.PROBES if p.text != negated.text}
    with pytest.raises(ValueError, match=f"缺少.*{re.escape(negated.text)}"):
        probes.pair_accuracy(partial)


def test_summary_table_counts_every_probe():
    table = probes.summary_table()
    assert int(table.to_numpy().sum()) == len(probes.PROBES)
    assert list(table.columns) == [probes.DOMAIN_NAMES[d] for d in probes.DOMAINS]
    assert list(table.index) == [probes.CATEGORY_NAMES[c] for c in probes.CATEGORIES]
    assert table.loc[probes.CATEGORY_NAMES["contrast"], "图书"] == sum(
        p.category == "contrast" and p.domain == "book" for p in probes.PROBES
    )


def test_jieba_keeps_a_negation_of_every_negated_pair_member_as_a_word():
    markers = set(probes.NEGATION_MARKERS)
    merged = [n.text for _, n in probes.minimal_pairs() if not markers & set(text.segment(n.text))]
    assert not merged, f"jieba 把否定词并进了别的词：{merged}"


def test_score_of_an_oracle_and_of_a_model_that_ignores_negation():
    oracle = probes.score([float(p.label) for p in probes.PROBES])
    assert set(oracle) == {"全部", "配对（两句都对）", *probes.CATEGORY_NAMES.values()}
    assert all(value == 1.0 for value in oracle.values())
    affirmed_label = {p.pair: p.label for p in probes.PROBES if p.category == "affirmed"}
    deaf = [float(affirmed_label[p.pair]) if p.pair else 0.5 for p in probes.PROBES]
    scored = probes.score(deaf)
    assert scored["配对（两句都对）"] == 0.0 and scored[probes.CATEGORY_NAMES["affirmed"]] == 1.0
    assert scored[probes.CATEGORY_NAMES["negated"]] == 0.0


def test_score_needs_one_probability_per_probe():
    with pytest.raises(ValueError, match=f"应有 {len(probes.PROBES)} 个概率"):
        probes.score([0.5] * (len(probes.PROBES) - 1))


def test_pair_accuracy_of_one_domain_counts_only_that_domains_pairs():
    oracle = {p.text: float(p.label) for p in probes.PROBES}
    hotel_pairs = [pair for pair in probes.minimal_pairs() if pair[0].domain == "hotel"]
    assert hotel_pairs and len(hotel_pairs) < len(probes.minimal_pairs())
    # a book pair wrong does not move the hotel score; a hotel pair wrong does
    book_affirmed, book_negated = next(pair for pair in probes.minimal_pairs() if pair[0].domain == "book")
    book_wrong = {**oracle, book_negated.text: float(book_affirmed.label)}
    assert probes.pair_accuracy(book_wrong, "hotel") == 1.0
    assert probes.pair_accuracy(book_wrong, "book") < 1.0
    affirmed, negated = hotel_pairs[0]
    hotel_wrong = {**oracle, negated.text: float(affirmed.label)}
    assert probes.pair_accuracy(hotel_wrong, "hotel") == pytest.approx(1 - 1 / len(hotel_pairs))
    with pytest.raises(ValueError, match="未知的领域"):
        probes.pair_accuracy(oracle, "food")
