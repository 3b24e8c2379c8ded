"""Which product domain each review of the corpus is about: hotel, book or computer.

The shipped corpus mixes three domains without saying which review is which.
To measure how a model trained on two domains does on the third (the
leave-one-domain-out evaluation of chapter 5 and `benchmarks/domain_transfer.py`),
every review gets one domain in two steps:

1. keywords: each domain has a list of words (broader than chapter 1's quick
   heuristic, `data.guess_domain`); a review whose keyword count for one domain
   is higher than for both others takes that domain;
2. a classifier for the rest (no keyword, or a tie): character 1-3-grams and
   logistic regression, trained on the reviews step 1 decided.

Short fragments such as "比较幸运~" have no domain a reader could name either;
they go where the classifier puts them. `HAND_CHECKED` is a sample of 60
reviews whose domain was read and written down by hand (for this course);
`hand_check` compares the assignment with it, so the error rate is measured,
not assumed.
"""

from __future__ import annotations

import collections
import dataclasses
import random
from typing import Sequence

import numpy as np

from llmcourse.config import resolve_seed

DOMAINS = ("hotel", "book", "computer")
DOMAIN_NAMES = {"hotel": "酒店", "book": "图书", "computer": "电脑"}
UNCLEAR = "unclear"  # a hand label: the text names no domain a reader could tell

# Substrings counted in a review (Latin letters compared in lower case). Each occurrence counts once.
KEYWORDS = {
    "hotel": (
        "酒店", "宾馆", "饭店", "旅馆", "客房", "房间", "前台", "总台", "大堂", "入住", "住", "退房", "早餐",
        "服务员", "床", "卫生间", "浴室", "洗澡", "热水", "空调", "隔音", "标准间", "单人间", "双人间", "房价",
        "携程", "停车", "出租车", "的士", "机场", "火车站", "度假",
    ),
    "book": (
        "书", "作者", "读", "小说", "故事", "出版", "章", "文字", "作品", "翻译", "译者", "印刷", "纸张", "纸质",
        "情节", "插图", "文笔", "人物", "当当", "写得", "写的", "主人公", "散文", "诗", "版本", "页",
    ),
    "computer": (
        "电脑", "笔记本", "本本", "本子", "键盘", "屏", "系统", "驱动", "电池", "散热", "内存", "硬盘", "显卡",
        "cpu", "配置", "机器", "xp", "vista", "光驱", "摄像头", "触摸板", "风扇", "分辨率", "开机", "鼠标",
        "接口", "usb", "坏点", "联想", "华硕", "戴尔", "惠普", "thinkpad", "东芝", "索尼", "宏碁", "神舟",
        "外壳", "做工", "重装", "预装", "待机", "发热", "音箱", "声卡",
    ),
}  # fmt: skip


def keyword_counts(review: str) -> dict[str, int]:
    """{domain: how many keyword occurrences of that domain `review` contains}."""
    lowered = review.lower()
    return {d: sum(lowered.count(k) for k in words) for d, words in KEYWORDS.items()}


def keyword_domain(review: str) -> str | None:
    """The domain whose keyword count is strictly the highest, or None (no keyword, or a tie)."""
    counts = keyword_counts(review)
    ranked = sorted(counts.values(), reverse=True)
    if ranked[0] == 0 or ranked[0] == ranked[1]:
        return None
    return max(counts, key=counts.get)


@dataclasses.dataclass(frozen=True)
class Assignment:
    """One domain per review, and how it was decided ("keywords" or "classifier")."""

    domains: tuple[str, ...]
    methods: tuple[str, ...]

    def counts(self) -> collections.Counter:
        """Counter of (domain, method)."""
        return collections.Counter(zip(self.domains, self.methods))

    def share_by_classifier(self) -> float:
        return self.methods.count("classifier") / len(self.methods)


def assign(texts: Sequence[str], seed: int | None = None) -> Assignment:
    """Assign every text a domain: keywords where they decide, a character n-gram classifier elsewhere.

    The classifier is trained on the keyword-decided texts only (their keyword domain as the label).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    by_keywords = [keyword_domain(t) for t in texts]
    decided = [i for i, d in enumerate(by_keywords) if d is not None]
    undecided = [i for i, d in enumerate(by_keywords) if d is None]
    if len({by_keywords[i] for i in decided}) < len(DOMAINS):
        raise ValueError(f"关键词只认出了 {len(decided)} 条评论，不足以训练领域分类器（三个领域都要有）")
    domains = list(by_keywords)
    methods = ["keywords" if d is not None else "classifier" for d in by_keywords]
    if undecided:
        vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True)
        features = vectorizer.fit_transform([texts[i] for i in decided])
        classifier = LogisticRegression(C=4.0, max_iter=2000, random_state=resolve_seed(seed))
        classifier.fit(features, [by_keywords[i] for i in decided])
        guessed = classifier.predict(vectorizer.transform([texts[i] for i in undecided]))
        for i, d in zip(undecided, guessed):
            domains[i] = str(d)
    return Assignment(tuple(domains), tuple(methods))


def hand_check_sample(texts: Sequence[str], assignment: Assignment, per_method: int = 30, seed: int = 0) -> list[int]:
    """Indices of a seeded random sample for checking by hand: `per_method` keyword-decided, as many classifier-decided."""
    rng = random.Random(seed)
    picked = []
    for method in ("keywords", "classifier"):
        pool = [i for i, m in enumerate(assignment.methods) if m == method]
        picked += sorted(rng.sample(pool, min(per_method, len(pool))))
    return picked


# The sample `hand_check_sample(corpus, assign(corpus))` drew (seed 0: 30 keyword-decided reviews, then 30
# classifier-decided), each review read in full and its domain written down by hand, for this course:
# (the first 24 characters of the review, the domain a reader names). "book|computer" means an online
# purchase (returns, delivery, JD coupons) that is surely not a hotel but could be either product;
# UNCLEAR means the text names no domain at all ("缺点:").
HAND_CHECKED: tuple[tuple[str, str], ...] = (
    ("正如标题一般，如果要给王小波冠以什么名号，不如就", "book"),
    ("我是在去面试的公司读到这本书的，当时直接感到惊为", "book"),
    ("当时由于原先预定的标准间没有房间，酒店人员免费将", "hotel"),
    ("酒店是比较老的四星，设施都比较陈旧，房间也很小，", "hotel"),
    ("开始住的六层的房子不是特别好，后来调到10层后房", "hotel"),
    ("酒店提供的免费早餐券有2种选择。建议不要去5层茶", "hotel"),
    ("酒店地理位置不错，299的价格比较实惠，卫生间装", "hotel"),
    ("不错,住过几次了,值得推荐! 酒店外就有超市买东", "hotel"),
    ("前台服务态度非常好, 房间大小清洁也都不错退房当", "hotel"),
    ("5 附送1G内存，售后不错，帮我安的内存条，安上", "computer"),
    ("HP的品牌，质量应该算过的去，只是比较便宜，更有", "computer"),
    ("性能不错，03跑了15000，其他的还没跑 装W", "computer"),
    ("可以装xp，但内附的驱动盘是vista的，要自己", "computer"),
    ("书收到时竟然给弄破了，那么喜欢的书哦，心疼", "book"),
    ("《求医不如求己》这套书非常实用，我已推荐给很多朋", "book"),
    ("因为是打开当当网就看到的一本书，看到网上的评论也", "book"),
    ("这个饭店比较老旧、像20年前的饭店，实在不是一个", "hotel"),
    ("什么电力宾馆呀？！根本就象私人的“大车店”！服务", "hotel"),
    ("3、估计是生意太好！所以出现了这些状况！那么！建", "hotel"),
    ("这家也能叫三星级的?屋里进去，不知道啥味道，浴室", "hotel"),
    ("为什么把一个小房间留给携程网预定的，服务员态度不", "hotel"),
    ("9/11因出差住过，酒店太差了，最糟的是酒店环境", "hotel"),
    ("5.房价350在平顶山属于特别高的，该酒店签约价", "hotel"),
    ("宏基，自带linux.开机无法使用，咨询售后是由", "computer"),
    ("内存比较小了。以后要是装windows 7 的话", "computer"),
    ("装XP比较麻烦。DOS如果选择法文，键盘会有问题", "computer"),
    ("第一次装xp到一半蓝屏，不过进bios，在adv", "computer"),
    ("价格偏高点了（虽然买了，总觉得和市场上的差别越来", "computer"),
    ("装XP太麻烦 在网上看了无数贴子 最后下了个1G", "computer"),
    ("电池似乎远没有8.5小时那么久，巧克力键盘也有一", "computer"),
    ("是啊，已经完了很久了，但是，到凌晨3点，我才真正", "book"),
    ("缺点:", "unclear"),
    ("地理位置应该也算不错的。", "hotel"),
    ("赶上八点半结账，等了超过十分钟。", "hotel"),
    ("我在出差，于是委托公司财务于5月28日将模糊不清", "hotel"),
    ("D、明显存在的问题：8号中午一点多结账时，结果结", "hotel"),
    ("性价比特别高。。", "unclear"),
    ("DDR3的条子，蓝牙，WIFI，你想得到的它帮你", "computer"),
    ("比MSI U100好多：", "computer"),
    ("4，客服很耐心，银行转账速度太慢，我很着急，他耐", "unclear"),
    ("harman/kardon?扬声器不是盖的", "computer"),
    ("在浏览网页情况下，电池可以支持2小时20分钟", "computer"),
    ("刚看了开头,就再也看不下去.她的叙事方式,让我觉", "book"),
    ("没有什么新意，给刚出校门的人看看还可以。", "book"),
    ("画册略显简单一点，画面也不是很生动，宝宝看一会就", "book"),
    ("联系了退货,一个月了,也没人搭理我,郁闷....", "book|computer"),
    ("以上的评论太好,让我有购买的冲动,但我看过后,还", "book"),
    ("2>给食品加温的不是电热式，采用的是燃烧腊来加热", "hotel"),
    ("我没接受她的建议,于是一夜闷热.....", "hotel"),
    ("这种小聪明，欺骗消费者，最终决定了扬子江将是一家", "hotel"),
    ("6。自以为聪明的推出了很多所谓的服务，但一般我们", "hotel"),
    ("条件一般，就是地理位置不错，离市中心比较近，出行", "hotel"),
    ("3、服务态度温和，不管你怎么反映问题，他们都不解", "hotel"),
    ("就体会到这么多了，还要慢慢体会", "book"),
    ("2. windows启动音乐下，可以听到左侧喇叭", "computer"),
    ("随机光盘全英文，说明书没有注明详细的硬机，装驱动", "computer"),
    ("诶诶诶诶诶，太差运气了，买了不到2天就又降了20", "computer"),
    ("亚运村提货点电话一直不通，真的不好找那地方，还有", "book|computer"),
    ("京东的发货速度是没话说的，但圆通真的很慢呀！建议", "book|computer"),
    ("就是霸王条款，送的200元东券要再消费5000元", "book|computer"),
)


@dataclasses.dataclass(frozen=True)
class HandCheck:
    """The assignment against the hand labels of `HAND_CHECKED`."""

    checked: int  # sample reviews found in the texts
    unclear: int  # sample reviews a reader could not place either
    wrong: int  # placeable reviews given a domain the reader ruled out
    wrong_by_method: dict[str, tuple[int, int]]  # method -> (wrong, placeable)

    @property
    def error_rate(self) -> float:
        """Share of the placeable sample reviews given the wrong domain."""
        placeable = self.checked - self.unclear
        return self.wrong / placeable if placeable else float("nan")


def hand_check(texts: Sequence[str], assignment: Assignment) -> HandCheck:
    """Compare `assignment` of `texts` with the hand labels; every sample review must be found."""
    position = {t[:24]: i for i, t in enumerate(texts)}
    missing = [prefix for prefix, _ in HAND_CHECKED if prefix not in position]
    if missing:
        raise ValueError(f"手工核对样本中有 {len(missing)} 条在语料里找不到，例如「{missing[0]}」")
    tally = {m: [0, 0] for m in ("keywords", "classifier")}
    unclear = 0
    for prefix, label in HAND_CHECKED:
        i = position[prefix]
        if label == UNCLEAR:
            unclear += 1
            continue
        counts = tally[assignment.methods[i]]
        counts[1] += 1
        counts[0] += assignment.domains[i] not in label.split("|")
    wrong = sum(w for w, _ in tally.values())
    return HandCheck(len(HAND_CHECKED), unclear, wrong, {m: (w, n) for m, (w, n) in tally.items()})


def check_domain(domain: str) -> str:
    """`domain` itself if it is one of DOMAINS, else a ValueError that lists them."""
    if domain not in DOMAINS:
        raise ValueError(f"未知的领域 {domain!r}：可选 {', '.join(DOMAINS)}")
    return domain


def domain_mask(assignment: Assignment, domain: str) -> np.ndarray:
    """Boolean mask, shape (n,): the texts assigned to `domain`."""
    check_domain(domain)
    return np.array([d == domain for d in assignment.domains])
