"""What the notebooks use to keep the book's prose true: glued numbers, computed sentences, guarded claims.

The book never types a result. A number in the prose is stored here by the cell
that computed it and pasted by MyST-NB where the Markdown says
{glue:text}`name:.4f`; a sentence whose wording depends on the numbers
("超过" or "不及") is built in code and pasted with {glue:md}`name`; and a claim the
prose makes in words is guarded by `claim`, in a hidden cell, so that the build
fails the day it stops holding. A room of its own above the core: nothing in the
core imports it. Taught in chapter 1.
"""

from __future__ import annotations

from typing import Any

from llmcourse import config


class ClaimError(AssertionError):
    """A sentence of the book no longer holds for the numbers of this run. Taught in chapter 1."""


def _paste(name: str, value: Any) -> None:
    try:
        from myst_nb import glue as myst_glue  # deferred: only the book build (and JupyterLab with it) has MyST-NB
    except ImportError:  # Colab or a bare install: the notebook still runs, the prose shows the role
        return
    myst_glue(name, value, display=False)


def glue(name: str, value: Any, fmt: str | None = None) -> Any:
    """Store `value` for the prose under `name` and return it unchanged.

    With `fmt` (a format spec such as ".4f" or ",d") the formatted string is stored,
    so the Markdown can say {glue:text}`name` without repeating the format. Numbers
    are stored as plain Python numbers (not NumPy scalars), whose text is their value.
    Taught in chapter 1.
    """
    if hasattr(value, "item") and callable(value.item):  # a NumPy scalar
        value = value.item()
    _paste(name, format(value, fmt) if fmt else value)
    return value


def glue_md(name: str, markdown: str) -> str:
    """Store a computed sentence (MyST Markdown) under `name` for {glue:md}`name`; return it.

    Taught in chapter 1.
    """
    from IPython.display import Markdown  # deferred: only notebooks paste Markdown

    _paste(name, Markdown(markdown))
    return markdown


def choose(condition: bool, if_true: str, if_false: str) -> str:
    """The wording that is true: `if_true` when `condition` holds, else `if_false`. Taught in chapter 1."""
    return if_true if condition else if_false


def claim(holds: bool, sentence: str, *, also_quick: bool = False) -> None:
    """Fail the build when a sentence the prose makes in words no longer holds.

    Claims are about the full-size run the book is built with; under the quick
    profile (a few hundred reviews, one epoch) results are not expected to hold,
    so they are checked there only with `also_quick=True` (facts that hold at any size).
    Taught in chapter 1.
    """
    if holds:
        return
    if config.sizes().profile != "full" and not also_quick:
        print(f"（quick 规模下不检查这句话：{sentence}）")
        return
    raise ClaimError(f"书中的这句话在这次运行中不成立：{sentence}")
