"""Check that the built book reads from disk with no network: no script, style or font from another host.

Usage: python tests/check_offline_html.py HTML_DIR

Every page (.html file outside _static/) under HTML_DIR is parsed. It fails (exit status 1, one line per problem) when
- a <script src>, a <link> that loads something (stylesheet, preload, modulepreload, icon) or an
  <img src> points to another host (http:, https:, or a protocol-relative //host/...);
- a local <script src> or <link href> names a file that is not in the build;
- no page loads MathJax from the build's own _static/ (the equations would be raw LaTeX offline).
Links the reader clicks (<a href>) may go anywhere. `make book-check` runs this after the quick
build, like tests/check_search_index.py.
"""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

LOADING_RELS = {"stylesheet", "preload", "modulepreload", "icon", "shortcut", "apple-touch-icon", "manifest"}
MATHJAX = "_static/mathjax/"


class _Loads(HTMLParser):
    """Collects (tag, url) of everything a page loads by itself."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.loads: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "script" and a.get("src"):
            self.loads.append(("script", a["src"]))
        elif tag == "link" and a.get("href") and LOADING_RELS & set(a.get("rel", "").lower().split()):
            self.loads.append(("link", a["href"]))
        elif tag == "img" and a.get("src"):
            self.loads.append(("img", a["src"]))


def is_remote(url: str) -> bool:
    parts = urlsplit(url)
    return bool(parts.netloc) or parts.scheme not in ("", "file", "data")


def page_problems(page: Path, html: str) -> tuple[list[str], bool]:
    """(problems of one page, whether it loads the build's MathJax)."""
    parser = _Loads()
    parser.feed(html)
    problems, mathjax = [], False
    for tag, url in parser.loads:
        if is_remote(url):
            problems.append(f"{page}: <{tag}> 从其他主机加载 {url}")
            continue
        if urlsplit(url).scheme == "data":
            continue
        target = (page.parent / unquote(urlsplit(url).path)).resolve()
        if tag != "img" and not target.is_file():
            problems.append(f"{page}: <{tag}> 指向构建中不存在的文件 {url}")
        if tag == "script" and MATHJAX in url and target.is_file():
            mathjax = True
    return problems, mathjax


def check(html_dir: str | Path) -> list[str]:
    root = Path(html_dir)
    # the pages; _static/ holds assets (the theme ships a Jinja template there as .html)
    pages = sorted(p for p in root.rglob("*.html") if "_static" not in p.relative_to(root).parts)
    if not pages:
        return [f"{root} 中没有 HTML 页面：请先构建本书（make book-check）"]
    problems, any_mathjax = [], False
    for page in pages:
        found, mathjax = page_problems(page, page.read_text(encoding="utf-8", errors="replace"))
        problems += found
        any_mathjax = any_mathjax or mathjax
    if not any_mathjax:
        problems.append(f"{root}: 没有页面从 {MATHJAX} 加载 MathJax，公式离线时无法显示")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    problems = check(argv[0])
    for line in problems:
        print(line, file=sys.stderr)
    if not problems:
        print(f"{argv[0]}：所有页面只从本地加载脚本、样式和图片；MathJax 随书发布")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
