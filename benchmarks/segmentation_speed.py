"""Segmentation throughput: jieba on the whole deduplicated corpus, cold and from the cache.

    python benchmarks/segmentation_speed.py

Prints characters per second for a cold run (a fresh, empty cache directory,
jieba's dictionary already loaded) and for a warm run that reads the cache.
"""

from __future__ import annotations

import tempfile
import time

from llmcourse import data, text


def main() -> None:
    reviews = data.load_reviews()
    chars = sum(len(t) for t in reviews.texts)
    segmenter = text.Segmenter()
    segmenter.cut("预热：加载 jieba 词典")  # dictionary loading is not segmentation
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        tokens = text.segment_corpus(reviews.texts, segmenter, directory=cache, progress=False)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        again = text.segment_corpus(reviews.texts, segmenter, directory=cache, progress=False)
        warm = time.perf_counter() - start
    assert again == tokens
    words = sum(map(len, tokens))
    print(f"corpus: {len(reviews):,d} reviews, {chars:,d} characters, {words:,d} words")
    print(f"cold (jieba):  {cold:6.2f} s  {chars / cold:12,.0f} characters/s")
    print(f"warm (cache):  {warm:6.2f} s  {chars / warm:12,.0f} characters/s  ({cold / warm:.1f}x faster)")


if __name__ == "__main__":
    main()
