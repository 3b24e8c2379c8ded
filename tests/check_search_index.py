"""Check that the built book's search index contains given Chinese words.

Usage: python tests/check_search_index.py HTML_DIR [WORD ...]
(default words: 分词 词向量). Sphinx indexes Chinese text only through jieba,
and only the words jieba's search mode produces: a term that jieba splits
(e.g. into 词 + 向量) cannot be found by the reader. Exit status 1, with a
message, when the index is missing or a word is not in it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

DEFAULT_WORDS = ("分词", "词向量")
PREFIX = "Search.setIndex("


def load_search_index(html_dir: str | Path) -> dict:
    """The object passed to Search.setIndex(...) in HTML_DIR/searchindex.js."""
    path = Path(html_dir) / "searchindex.js"
    if not path.is_file():
        raise FileNotFoundError(f"找不到 {path}：请先构建本书（make book-check）")
    content = path.read_text(encoding="utf-8").strip()
    if not content.startswith(PREFIX) or not content.rstrip(";").endswith(")"):
        raise ValueError(f"{path} 的格式不是 Search.setIndex({{...}})")
    return json.loads(content[len(PREFIX) : content.rstrip(";").rindex(")")])


def missing_words(index: dict, words=DEFAULT_WORDS) -> list[str]:
    """The words found neither among the indexed terms nor among the title terms."""
    known = set(index.get("terms", {})) | set(index.get("titleterms", {}))
    return [w for w in words if w not in known]


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    html_dir, words = argv[0], tuple(argv[1:]) or DEFAULT_WORDS
    try:
        index = load_search_index(html_dir)
    except (OSError, ValueError) as err:
        print(f"搜索索引检查失败：{err}", file=sys.stderr)
        return 1
    missing = missing_words(index, words)
    if missing:
        print(
            f"搜索索引检查失败：{html_dir}/searchindex.js 中没有这些词：{'、'.join(missing)}。"
            "读者在本书中搜索它们会一无所获。Sphinx 用 jieba 的搜索模式切分中文，"
            "jieba 词典里没有的词会被切开（如“词向量”→“词”“向量”）；"
            "可在 _config.yml 的 sphinx.config 中设置 html_search_options: {dict: 词典文件} 补充这些词。",
            file=sys.stderr,
        )
        return 1
    print(f"搜索索引检查通过：{'、'.join(words)} 都在 {len(index.get('terms', {})):,d} 个索引词中")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
