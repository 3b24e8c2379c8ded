"""Find numbers typed into the book's prose: every measured number must be glued or printed by code.

The book promises that each number in it is computed by the code above it, on the
machine and under the seed it was built with. A digit in a Markdown cell or a book
page is therefore allowed only where it cannot be a measurement:

- in code (fenced blocks, inline code) and in mathematics ($...$, $$...$$, {math});
- inside a role: glued values ({glue:text}, {glue:md}), cross-references ({ref},
  {numref}, {eq}, {doc}), citations ({cite}), glossary terms ({term});
- in structure: headings' own numbering, ordered-list markers, "第 N 章",
  "练习 N", the article's own section numbers ("原文 4.1 节"), years ("2017 年");
- in the few names that contain a digit (Word2Vec, F1, UTF-8, ...), listed in NAMES;
- in link targets, labels, directive options and HTML comments.

Anything else is reported with its file, line and the words around it.
Usage: python tools/prose_check.py [FILE ...]   (default: every notebook and book page)
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Names that contain a digit and are not numbers. Keep this list short: a measured
# number never belongs here.
NAMES = [
    r"Word2Vec",
    r"word2vec",
    r"seq2seq",
    r"F1",
    r"UTF-8",
    r"UTF-16",
    r"GBK",
    r"GB2312",
    r"GB18030",
    r"GPT-?[1-4](?:o)?",
    r"L[12]",
    r"Python\s*3(?:\.\d+)?",
    r"H100",
    r"H200",
    r"A100",
    r"T4",
    r"[Ll]lama\s*[23]",
    r"Qwen\d?",
    r"ChatGLM\d?",
    r"BERT",
    r"ELMo",
    r"ULMFiT",
    r"Keras\s*3",
    r"TensorFlow\s*2",
    r"jupyter-book<2",
    r"Jupyter\s*Book\s*[12]",
    r"sha256",
    r"SHA-256",
    r"4xx",
    r"5xx",
    r"[1-5]\d\d\s*(?=[A-Z])",
    r"(?:gensim|Keras|TensorFlow|NumPy|numpy|jieba|matplotlib|Python|Sphinx|scikit-learn|pandas|FastAPI|uvicorn"
    r"|zhplot|myst-nb|Jupyter Book|CUDA|cuDNN)\s*\d+(?:\.\d+)*",  # a library and its version
    r"HTTP\s*[1-5]\d\d",
    r"top-k",
    r"x86_64",
    r"int8",
    r"float16",
    r"float32",
    r"bfloat16",
    r"fp16",
    r"e-?\d+",
]

_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")
_ROLE = re.compile(r"\{[a-zA-Z][\w:.-]*\}`[^`]*`")
_INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
_DISPLAY_MATH = re.compile(r"\$\$.*?\$\$", re.S)
_INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\s)[^$\n]+?(?<!\s)\$")
_LINK_TARGET = re.compile(r"\]\([^)]*\)|<https?://[^>]*>|https?://\S+")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
_HTML_TAG = re.compile(r"<[^>\n]+>")
_STRUCTURE = [
    re.compile(r"^\s{0,3}#+\s*(?:第\s*\d+\s*章|\d+(?:\.\d+)*)"),  # a heading's own number
    re.compile(r"^\s*\d+[.)]\s"),  # an ordered-list marker
    re.compile(r"^\s*\(\S+\)=\s*$"),  # a MyST target line
    re.compile(r"^\s*:[\w-]+:.*$"),  # a directive option
]
_ALLOWED = [
    re.compile(r"第\s*\d+(?:\s*[、，,和至到—–-]\s*\d+)*\s*章"),  # chapter numbers
    re.compile(r"勘误\s*\d+"),  # erratum numbers of the errata table
    re.compile(r"(?:练习|习题)\s*\d+(?:\s*[、，,和至到—–-]\s*\d+)*"),  # exercise numbers
    re.compile(r"原文(?:的)?\s*(?:第\s*)?\d+(?:\.\d+)*\s*节"),  # the article's own section numbers
    re.compile(r"(?:19|20)\d\d\s*年(?:代)?"),  # years
    re.compile(r"(?<![\w.])(?:" + "|".join(NAMES) + r")(?![\w.])"),
]
_DIGIT = re.compile(r"\d+(?:[.,，]\d+)*")


def _code_free_lines(markdown: str) -> list[tuple[int, str]]:
    """The lines of `markdown` outside code fences, each with its 1-based number.

    Directive fences ({admonition}, {note}, {exercise}, ...) hold prose and are kept;
    the fences of code and of {math}, {code-block}, {literalinclude} are dropped.
    """
    kept, stack = [], []  # stack: (fence, is_code) of the open fences
    for number, line in enumerate(markdown.splitlines(), start=1):
        match = _FENCE.match(line)
        if match:
            fence, info = match.group(2), match.group(3).strip()
            if stack and fence[0] == stack[-1][0][0] and len(fence) >= len(stack[-1][0]) and not info:
                stack.pop()
                continue
            directive = re.match(r"\{([\w:-]+)\}", info)
            is_code = not directive or directive.group(1) in {
                "math",
                "code-block",
                "code",
                "code-cell",
                "literalinclude",
                "mermaid",
                "raw",
                "csv-table",
            }
            stack.append((fence, is_code or any(code for _, code in stack)))
            continue
        if stack and stack[-1][1]:
            continue
        kept.append((number, line))
    return kept


def _strip_inline(text: str) -> str:
    for pattern in (_ROLE, _INLINE_CODE, _DISPLAY_MATH, _INLINE_MATH, _LINK_TARGET, _HTML_COMMENT, _HTML_TAG):
        text = pattern.sub(" ", text)
    return text


def typed_numbers(markdown: str) -> list[tuple[int, str, str]]:
    """(line, number, context) for every digit in `markdown` that is neither glued nor allowed."""
    markdown = _DISPLAY_MATH.sub(
        lambda m: "\n" * m.group(0).count("\n"), _HTML_COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), markdown)
    )
    found = []
    for number, line in _code_free_lines(markdown):
        if any(p.match(line) and p.pattern.endswith("$") for p in _STRUCTURE):
            continue
        text = _strip_inline(line)
        for pattern in _STRUCTURE[:2]:
            text = pattern.sub(" ", text, count=1)
        for pattern in _ALLOWED:
            text = pattern.sub(" ", text)
        for match in _DIGIT.finditer(text):
            start, end = max(0, match.start() - 12), match.end() + 12
            found.append((number, match.group(0), text[start:end].strip()))
    return found


def markdown_of(path: Path) -> list[tuple[str, str]]:
    """(where, markdown) pieces of a notebook's Markdown cells or of a book page."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        return [
            (f"{path.name} 第 {i} 个单元格", "".join(cell["source"]))
            for i, cell in enumerate(cells)
            if cell["cell_type"] == "markdown"
        ]
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"\A---\n.*?\n---\n", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)  # front matter
    return [(path.name, text)]


def book_sources() -> list[Path]:
    """Every notebook and book page that the book renders."""
    return sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "book").glob("*.md"))


def report(paths: list[Path]) -> list[str]:
    """One line per typed number: "where 第 N 行：number（context）"."""
    lines = []
    for path in paths:
        for where, markdown in markdown_of(path):
            for line, digits, context in typed_numbers(markdown):
                lines.append(f"{where} 第 {line} 行：{digits}（……{context}……）")
    return lines


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or book_sources()
    lines = report(paths)
    print("\n".join(lines) if lines else "没有手写的数字")
    print(f"共 {len(lines)} 处", file=sys.stderr)
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
