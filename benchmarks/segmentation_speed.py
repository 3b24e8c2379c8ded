"""Segmentation throughput: jieba on the whole deduplicated corpus, cold and from the cache.

    python benchmarks/segmentation_speed.py [--save]

Prints characters per second for a cold run (a fresh, empty cache directory,
jieba's dictionary already loaded) and for a warm run that reads the cache.
With --save the figures also go to benchmarks/results/segmentation_speed.json.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from llmcourse import data, text


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/segmentation_speed.json")
    args = parser.parse_args(argv)
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
    if args.save:
        from results import save

        save(
            "segmentation_speed",
            {
                "reviews": len(reviews),
                "characters": chars,
                "words": words,
                "cold_seconds": round(cold, 3),
                "warm_seconds": round(warm, 3),
                "cold_chars_per_second": round(chars / cold),
                "warm_chars_per_second": round(chars / warm),
            },
        )


if __name__ == "__main__":
    main()
