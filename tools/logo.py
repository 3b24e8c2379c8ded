"""Draw the book's logo and favicon with matplotlib, offline (nothing downloaded).

    .venv/bin/python tools/logo.py [--out book/_static]

Writes logo.svg (the glyph 语 above a chain of three recurrent cells, the course's subject) and
favicon.png (64 x 64: the glyph alone). Text is drawn with the Noto Sans SC font shipped in
the zhplot package (OFL-1.1) and stored as outlines, so the files need no font. The output is
deterministic (no date, fixed SVG ids): running it again changes nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch  # noqa: E402

from llmcourse.plotting import chinese_font_path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BACKGROUND = "#1f4e79"
FOREGROUND = "#ffffff"
ACCENT = "#2a9d8f"  # the positive colour of the book's figures (llmcourse.plotting.POS_COLOR)
GLYPH = "语"


def _canvas(size_inches: float):
    fig = plt.figure(figsize=(size_inches, size_inches))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_axis_off()
    ax.add_patch(
        FancyBboxPatch(
            (0.04, 0.04), 0.92, 0.92, boxstyle="round,pad=0,rounding_size=0.18", facecolor=BACKGROUND, edgecolor="none"
        )
    )
    return fig, ax


def draw_logo(font: FontProperties):
    fig, ax = _canvas(2.56)
    ax.text(0.5, 0.60, GLYPH, fontproperties=font, fontsize=92, color=FOREGROUND, ha="center", va="center")
    xs = (0.25, 0.5, 0.75)
    for i, x in enumerate(xs):
        ax.add_patch(Circle((x, 0.2), 0.065, facecolor=ACCENT, edgecolor=FOREGROUND, linewidth=2))
        if i:
            ax.add_patch(
                FancyArrowPatch(
                    (xs[i - 1] + 0.07, 0.2),
                    (x - 0.07, 0.2),
                    arrowstyle="-|>",
                    mutation_scale=12,
                    color=FOREGROUND,
                    linewidth=2,
                )
            )
    return fig


def draw_favicon(font: FontProperties):
    fig, ax = _canvas(0.64)
    ax.text(0.5, 0.47, GLYPH, fontproperties=font, fontsize=34, color=FOREGROUND, ha="center", va="center")
    return fig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "book" / "_static")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    font = FontProperties(fname=str(chinese_font_path()))
    plt.rcParams["svg.hashsalt"] = "llmcourse-logo"
    plt.rcParams["svg.fonttype"] = "path"
    logo = draw_logo(font)
    logo.savefig(args.out / "logo.svg", transparent=True, metadata={"Date": None, "Creator": None})
    favicon = draw_favicon(font)
    favicon.savefig(args.out / "favicon.png", dpi=100, transparent=True, metadata={"Software": None})
    print(f"{args.out / 'logo.svg'}、{args.out / 'favicon.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
