"""A probe set of short Chinese reviews about negation and contrast, written for the course.

The sentences test whether a sentiment model handles negation and contrast
(chapter 3 and the benchmarks): most come as minimal pairs, a sentence and the
same sentence with a negation inserted (or a degree word replaced by one), with
opposite labels; the rest are double negations, contrasts whose second clause
decides the label, hedged (negated intensifier) sentences, and sentences where a
negation word appears without flipping the meaning. They were written for this
course, in the three domains of the corpus (hotel, book and computer reviews),
and are not taken from it or from any other source.

The set is for evaluation only: no model, threshold or setting may be tuned on
it. Settings are chosen on validation data; the probes are read once, at the end.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Mapping, Sequence

import pandas as pd

from llmcourse import data
from llmcourse.domains import DOMAIN_NAMES, DOMAINS, check_domain  # noqa: F401 - the three domains, re-exported

# affirmed / negated: the two members of a minimal pair; the other four are single sentences.
CATEGORIES = ("affirmed", "negated", "double_negation", "contrast", "negation_no_flip", "hedged")
CATEGORY_NAMES = {
    "affirmed": "肯定句（配对）",
    "negated": "否定句（配对）",
    "double_negation": "双重否定",
    "contrast": "转折",
    "negation_no_flip": "含否定词但不反转",
    "hedged": "弱化否定",
}
# Negation words and phrases. The edit that makes the negated member of a minimal pair inserts exactly one
# of them (see `pair_edit`); double negations, hedges and the no-flip sentences contain them too.
NEGATION_MARKERS = (
    "一点也不", "一点都不", "并没有", "从来不", "没有", "不是", "不会", "并不", "从不", "不", "没", "无", "未", "别",
)  # fmt: skip
# Words a negation may replace in a minimal pair ("很干净" -> "不干净", "有异味" -> "无异味").
REPLACEABLE_WORDS = ("很", "有")


@dataclasses.dataclass(frozen=True)
class Probe:
    """One probe sentence with its 0/1 label, domain, category and minimal-pair id (None outside pairs).

    Taught in chapter 3.
    """

    text: str
    label: int
    domain: str
    category: str
    pair: str | None = None


def _pairs(domain: str, rows: tuple[tuple[str, str, int], ...]) -> tuple[Probe, ...]:
    """Both members of each (affirmed text, negated text, affirmed label) row, ids like "hotel-01"."""
    out = []
    for number, (affirmed, negated, label) in enumerate(rows, 1):
        pair = f"{domain}-{number:02d}"
        out.append(Probe(affirmed, label, domain, "affirmed", pair))
        out.append(Probe(negated, 1 - label, domain, "negated", pair))
    return tuple(out)


def _singles(category: str, rows: tuple[tuple[str, int, str], ...]) -> tuple[Probe, ...]:
    return tuple(Probe(text, label, domain, category) for text, label, domain in rows)


_N, _P = data.NEGATIVE, data.POSITIVE

# (affirmed, negated, label of the affirmed sentence); the negated one has the opposite label. Each negated
# sentence inserts a negation, or puts one in the place of 很 / 有; in each, jieba's accurate mode keeps a
# negation as a word of its own (phrases it merges, such as 不好, 不灵敏, 不周到 or 不吵, were rewritten).
_HOTEL_PAIRS = (
    ("卫生间很干净", "卫生间不干净", _P),
    ("前台服务很到位", "前台服务不到位", _P),
    ("床垫很舒服", "床垫不舒服", _P),
    ("早餐很丰富", "早餐不丰富", _P),
    ("酒店去地铁站很方便", "酒店去地铁站不方便", _P),
    ("这家酒店让我失望", "这家酒店没有让我失望", _N),
    ("酒店晚上很嘈杂", "酒店晚上不嘈杂", _N),
    ("空调有异味", "空调没有异味", _N),
    ("我会推荐朋友来住", "我不会推荐朋友来住", _P),
    ("服务员态度很热情", "服务员态度不热情", _P),
    ("这家酒店值得推荐", "这家酒店不值得推荐", _P),
    ("房间有霉味", "房间无霉味", _N),
    ("卫生间有蟑螂", "卫生间没有蟑螂", _N),
    ("枕头很柔软", "枕头不柔软", _P),
    ("房间里的设施很齐全", "房间里的设施不齐全", _P),
    ("酒店的早餐很好吃", "酒店的早餐一点也不好吃", _P),
    ("房间的采光很充足", "房间的采光并不充足", _P),
    ("退房手续很麻烦", "退房手续不麻烦", _N),
)
_BOOK_PAIRS = (
    ("这本书让我失望", "这本书没有让我失望", _N),
    ("故事情节很吸引人", "故事情节不吸引人", _P),
    ("印刷很清晰", "印刷不清晰", _P),
    ("翻译很通顺", "翻译不通顺", _P),
    ("这本书值得一读", "这本书不值得一读", _P),
    ("书的内容很实用", "书的内容不实用", _P),
    ("我推荐大家读这本书", "我不推荐大家读这本书", _P),
    ("这本书有意思", "这本书没有意思", _P),
    ("书中的观点很新颖", "书中的观点不新颖", _P),
    ("这本书读起来很枯燥", "这本书读起来不枯燥", _N),
    ("书的排版有错误", "书的排版没有错误", _N),
    ("书的装订很结实", "书的装订不结实", _P),
    ("书的封面有破损", "书的封面没有破损", _N),
    ("这本小说很精彩", "这本小说并不精彩", _P),
    ("结局很感人", "结局不感人", _P),
    ("这本书是正版", "这本书不是正版", _P),
    ("孩子很爱看这本书", "孩子不爱看这本书", _P),
    ("作者的文笔很啰嗦", "作者的文笔不啰嗦", _N),
)
_COMPUTER_PAIRS = (
    ("屏幕很清晰", "屏幕不清晰", _P),
    ("续航很持久", "续航不持久", _P),
    ("键盘手感很舒服", "键盘手感不舒服", _P),
    ("运行大型软件很流畅", "运行大型软件不流畅", _P),
    ("玩游戏会卡顿", "玩游戏不会卡顿", _N),
    ("风扇噪音很大", "风扇噪音不大", _N),
    ("机身很重", "机身不重", _N),
    ("电脑出现过死机", "电脑没有出现过死机", _N),
    ("触控板很灵活", "触控板不灵活", _P),
    ("屏幕有坏点", "屏幕没有坏点", _N),
    ("我会推荐这款笔记本", "我不会推荐这款笔记本", _P),
    ("电脑发热很严重", "电脑发热不严重", _N),
    ("笔记本的做工很精细", "笔记本的做工不精细", _P),
    ("这台电脑是全新的", "这台电脑不是全新的", _P),
    ("机器运行时很安静", "机器运行时不安静", _P),
    ("电脑用起来很顺手", "电脑用起来不顺手", _P),
    ("笔记本按时送达", "笔记本未按时送达", _P),
    ("买这台电脑我很后悔", "买这台电脑我不后悔", _N),
)

_DOUBLE_NEGATION = (
    ("这次入住没有不满意的地方", _P, "hotel"),
    ("服务员没有一个不热情的", _P, "hotel"),
    ("这家酒店没有一处不让人失望", _N, "hotel"),
    ("住了三天没有一晚不被吵醒", _N, "hotel"),
    ("这本书没有一页不精彩", _P, "book"),
    ("这本书没有一章不枯燥", _N, "book"),
    ("这本书非看不可", _P, "book"),
    ("这是一本不可不读的书", _P, "book"),
    ("这台电脑没有一处不让我满意", _P, "computer"),
    ("这款笔记本没有一项功能不好用", _P, "computer"),
    ("这台电脑没有一天不出问题", _N, "computer"),
    ("这台电脑我没有不喜欢的地方", _P, "computer"),
)
_CONTRAST = (
    ("酒店位置很方便，但是房间太小了", _N, "hotel"),
    ("房间有点小，不过很干净", _P, "hotel"),
    ("房价偏高，不过物有所值", _P, "hotel"),
    ("装修很豪华，可是服务太差了", _N, "hotel"),
    ("早餐种类不多，但是味道很好", _P, "hotel"),
    ("房间挺大，就是太脏了", _N, "hotel"),
    ("封面很漂亮，可是内容很空洞", _N, "book"),
    ("书有点厚，但是读起来很轻松", _P, "book"),
    ("快递有点慢，不过书的质量很好", _P, "book"),
    ("名气很大，但是读完很失望", _N, "book"),
    ("纸张一般，但是内容非常精彩", _P, "book"),
    ("插图很精美，可是错别字太多", _N, "book"),
    ("外观很漂亮，但是散热太差", _N, "computer"),
    ("价格不便宜，但是性能非常强", _P, "computer"),
    ("配置很高，可是用了一周就坏了", _N, "computer"),
    ("机身有点重，不过续航很长", _P, "computer"),
    ("屏幕很好，可是键盘有两个键失灵", _N, "computer"),
    ("新键盘刚开始有点不习惯，但是现在很喜欢", _P, "computer"),
)
_NEGATION_NO_FLIP = (
    ("不得不说，这家酒店的早餐很棒", _P, "hotel"),
    ("无论早餐还是服务都让人满意", _P, "hotel"),
    ("前台的服务无可挑剔", _P, "hotel"),
    ("房间比别的酒店干净多了", _P, "hotel"),
    ("不仅房间脏，而且服务也差", _N, "hotel"),
    ("不管前台还是客房服务都很差", _N, "hotel"),
    ("读到结尾忍不住哭了，太感人了", _P, "book"),
    ("不得不说，这本书的翻译太差了", _N, "book"),
    ("这本书不仅有趣，而且很有深度", _P, "book"),
    ("无论内容还是印刷都很差", _N, "book"),
    ("读完不禁感叹作者的才华", _P, "book"),
    ("这本书我不止读了一遍，每次都有收获", _P, "book"),
    ("这台电脑不但轻薄而且续航长", _P, "computer"),
    ("不管玩游戏还是办公都很流畅", _P, "computer"),
    ("不得不说这台电脑的散热太差了", _N, "computer"),
    ("无论打游戏还是看视频都很卡", _N, "computer"),
    ("这台电脑比别的牌子好用多了", _P, "computer"),
)
_HEDGED = (
    ("房间不太干净", _N, "hotel"),
    ("早餐不怎么好吃", _N, "hotel"),
    ("服务员不够热情", _N, "hotel"),
    ("房间的隔音不是很好", _N, "hotel"),
    ("这本书不太值得买", _N, "book"),
    ("翻译不够流畅", _N, "book"),
    ("内容不怎么吸引人", _N, "book"),
    ("故事的结尾不太合理", _N, "book"),
    ("对这台电脑不太满意", _N, "computer"),
    ("屏幕不够亮", _N, "computer"),
    ("电池不怎么耐用", _N, "computer"),
    ("键盘手感不是很好", _N, "computer"),
)

PROBES: tuple[Probe, ...] = (
    _pairs("hotel", _HOTEL_PAIRS)
    + _pairs("book", _BOOK_PAIRS)
    + _pairs("computer", _COMPUTER_PAIRS)
    + _singles("double_negation", _DOUBLE_NEGATION)
    + _singles("contrast", _CONTRAST)
    + _singles("negation_no_flip", _NEGATION_NO_FLIP)
    + _singles("hedged", _HEDGED)
)


def probe_set(category: str | None = None, domain: str | None = None) -> data.LabeledTexts:
    """The probes of one category and/or domain (all by default) as `data.LabeledTexts`.

    Ready for `evaluation.evaluate`; never train or tune on them. Taught in chapter 3.
    """
    if category is not None and category not in CATEGORIES:
        raise ValueError(f"未知的探针类别 {category!r}：可选 {', '.join(CATEGORIES)}")
    if domain is not None:
        check_domain(domain)
    chosen = [p for p in PROBES if category in (None, p.category) and domain in (None, p.domain)]
    return data.LabeledTexts([p.text for p in chosen], [p.label for p in chosen])


def minimal_pairs() -> list[tuple[Probe, Probe]]:
    """The minimal pairs as (affirmed, negated) probes, in the order of PROBES. Taught in chapter 3."""
    members: dict[str, dict[str, Probe]] = collections.defaultdict(dict)
    for probe in PROBES:
        if probe.pair is not None:
            members[probe.pair][probe.category] = probe
    return [(both["affirmed"], both["negated"]) for both in members.values()]


def pair_edit(affirmed: str, negated: str) -> tuple[str, str]:
    """(removed, inserted): what turns `affirmed` into `negated` once their common start and end are cut off.

    "房间很干净" -> "房间不干净" gives ("很", "不"); an insertion gives ("", "没有").
    Taught in chapter 3.
    """
    start = 0
    while start < min(len(affirmed), len(negated)) and affirmed[start] == negated[start]:
        start += 1
    end = 0
    while end < min(len(affirmed), len(negated)) - start and affirmed[-1 - end] == negated[-1 - end]:
        end += 1
    return affirmed[start : len(affirmed) - end], negated[start : len(negated) - end]


def pair_accuracy(probabilities_by_text: Mapping[str, float], domain: str | None = None) -> float:
    """The share of minimal pairs whose two members are both classified correctly (positive when p >= 0.5).

    `probabilities_by_text` maps each probe text to the model's positive
    probability. A model that ignores negation gives both members of a pair the
    same answer and so scores 0 here, however well it does on each sentence
    alone. `domain`: only that domain's pairs. Taught in chapter 3.
    """
    if domain is not None:
        check_domain(domain)
    pairs = [pair for pair in minimal_pairs() if domain is None or pair[0].domain == domain]
    for affirmed, negated in pairs:
        for probe in (affirmed, negated):
            if probe.text not in probabilities_by_text:
                raise ValueError(f"缺少探针句“{probe.text}”的正面概率")
    both_right = [
        all((probabilities_by_text[p.text] >= 0.5) == (p.label == data.POSITIVE) for p in pair) for pair in pairs
    ]
    return sum(both_right) / len(pairs)


def summary_table() -> pd.DataFrame:
    """How many probes each category has in each domain: one row per category, one column per domain.

    Row and column names are in Chinese; the cells add up to len(PROBES). Taught in chapter 3.
    """
    counts = collections.Counter((p.category, p.domain) for p in PROBES)
    rows = [{"类别": CATEGORY_NAMES[c], **{DOMAIN_NAMES[d]: counts[c, d] for d in DOMAINS}} for c in CATEGORIES]
    return pd.DataFrame(rows).set_index("类别")


def score(probabilities: Sequence[float]) -> dict[str, float]:
    """Accuracy of one model's positive probabilities, given in the order of PROBES.

    Keys: "全部" (every probe), "配对（两句都对）" (`pair_accuracy`) and each category's
    Chinese name. Taught in chapter 3.
    """
    prob = [float(p) for p in probabilities]
    if len(prob) != len(PROBES):
        raise ValueError(f"应有 {len(PROBES)} 个概率（每条探针句一个），实际是 {len(prob)} 个")
    right = [(p >= 0.5) == (probe.label == data.POSITIVE) for p, probe in zip(prob, PROBES)]
    row = {
        "全部": sum(right) / len(right),
        "配对（两句都对）": pair_accuracy({q.text: p for q, p in zip(PROBES, prob)}),
    }
    for category in CATEGORIES:
        chosen = [r for r, probe in zip(right, PROBES) if probe.category == category]
        row[CATEGORY_NAMES[category]] = sum(chosen) / len(chosen)
    return row
