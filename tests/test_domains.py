"""Domain assignment (llmcourse.domains) on the real corpus: keywords, the classifier for the rest,
and the hand-checked sample that measures its error rate."""

import numpy as np
import pytest

from llmcourse import data, domains


@pytest.fixture(scope="module")
def assignment(reviews):
    return domains.assign(reviews.texts, seed=42)


def test_keywords_decide_only_a_strict_majority():
    assert domains.keyword_domain("房间很干净，前台服务也好") == "hotel"
    assert domains.keyword_domain("这本书的作者文笔很好") == "book"
    assert domains.keyword_domain("键盘手感不错，电池也耐用") == "computer"
    assert domains.keyword_domain("ThinkPad 的 USB 接口太少") == "computer"  # Latin letters in any case
    assert domains.keyword_domain("很好，下次还买") is None  # no keyword
    assert domains.keyword_domain("在酒店房间里看这本书") == "hotel"  # 酒店 + 房间 beat 书
    assert domains.keyword_domain("酒店的书") is None  # one each: a tie is left to the classifier
    assert domains.keyword_counts("书书书")["book"] == 3


def test_every_review_gets_one_of_the_three_domains(reviews, assignment):
    assert len(assignment.domains) == len(reviews.texts) == len(assignment.methods)
    assert set(assignment.domains) == set(domains.DOMAINS)
    assert set(assignment.methods) == {"keywords", "classifier"}
    # the keywords decide most reviews; every one they decide keeps its keyword domain
    assert 0.05 < assignment.share_by_classifier() < 0.4
    for text, domain, method in zip(reviews.texts[:2000], assignment.domains, assignment.methods):
        if method == "keywords":
            assert domains.keyword_domain(text) == domain
        else:
            assert domains.keyword_domain(text) is None
    counts = assignment.counts()
    assert sum(counts.values()) == len(reviews.texts)
    for domain in domains.DOMAINS:  # each domain is a sizeable share of the corpus
        assert np.mean(domains.domain_mask(assignment, domain)) > 0.15


def test_the_hand_checked_sample_is_the_one_the_assignment_draws_and_mostly_agrees(reviews, assignment):
    sample = domains.hand_check_sample(reviews.texts, assignment)
    assert [reviews.texts[i][:24] for i in sample] == [prefix for prefix, _ in domains.HAND_CHECKED]
    check = domains.hand_check(reviews.texts, assignment)
    assert check.checked == len(domains.HAND_CHECKED) == 60
    placeable = check.checked - check.unclear
    assert sum(n for _, n in check.wrong_by_method.values()) == placeable
    assert check.error_rate == pytest.approx(check.wrong / placeable)
    assert check.error_rate < 0.1  # the benchmark prints the measured rate; the book glues it


def test_a_wrong_assignment_is_caught_by_the_hand_check(reviews, assignment):
    # give every review the next domain in turn: the hand check must count nearly all as wrong
    shifted = tuple(domains.DOMAINS[(domains.DOMAINS.index(d) + 1) % 3] for d in assignment.domains)
    check = domains.hand_check(reviews.texts, domains.Assignment(shifted, assignment.methods))
    assert check.error_rate > 0.5


def test_bad_inputs_name_what_is_wrong(reviews, assignment):
    with pytest.raises(ValueError, match="未知的领域"):
        domains.domain_mask(assignment, "food")
    with pytest.raises(ValueError, match="找不到"):
        domains.hand_check(reviews.texts[:100], domains.Assignment(assignment.domains[:100], assignment.methods[:100]))
    with pytest.raises(ValueError, match="三个领域"):
        domains.assign(["房间很干净", "前台很好", "没有关键词"])


def test_the_label_leans_on_length_differently_in_each_domain(reviews, assignment):
    table = data.positive_share_by_length(reviews.texts, reviews.labels, assignment.domains, bins=4)
    for domain in domains.DOMAINS:
        rows = table[domain]
        assert len(rows) == 4 and sum(r["reviews"] for r in rows) == domains.domain_mask(assignment, domain).sum()
        assert [r["shortest"] for r in rows[1:]] == [r["longest"] for r in rows[:-1]]
        assert all(0 <= r["positive"] <= 1 for r in rows)
    book_rows = table["book"]
    assert book_rows[0]["positive"] < 0.3 < 0.7 < book_rows[-1]["positive"]  # short book reviews: mostly negative
    assert table["hotel"][-1]["positive"] < table["hotel"][0]["positive"]  # long hotel reviews lean the other way
    with pytest.raises(ValueError, match="一样多"):
        data.positive_share_by_length(reviews.texts[:-1], reviews.labels, assignment.domains)
    with pytest.raises(ValueError, match="分箱数"):
        data.positive_share_by_length(reviews.texts, reviews.labels, assignment.domains, bins=0)
