"""One drawing function, two ways to show it.

A chapter writes ``draw(fig, value)`` once. :func:`live_slider` wraps it in an ipywidgets
slider for JupyterLab; :func:`scrubbable_figure` renders one frame per value into a
self-contained HTML animation whose slider works in the static website (no kernel needed),
with a still PNG for formats that cannot run JavaScript (the PDF).
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Callable, Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
from matplotlib.animation import FuncAnimation
from matplotlib.figure import Figure

DrawFunction = Callable[[Figure, float], None]

# to_jshtml() links Font Awesome from a CDN for its button icons; the book's theme (and
# JupyterLab) already provide Font Awesome, and the book must load nothing from the internet.
_EXTERNAL_STYLESHEET = re.compile(r"<link\s+rel=\"stylesheet\"\s+href=\"https?://[^\"]*\">\s*")


def _options(values: Sequence[float], fmt: str) -> list[tuple[str, float]]:
    if len(values) < 2:
        raise ValueError(f"a slider needs at least two values, got {len(values)}.")
    return [(format(v, fmt), v) for v in values]


class LiveSlider(widgets.VBox):
    """A slider above its picture. Outside a live kernel (the PDF, plain text) it shows a
    one-line hint instead of the widget's internal representation."""

    def __init__(self, children, description: str):
        super().__init__(children)
        self._hint = f"<live slider over {description}: run this notebook to move it>"

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle:
            bundle["text/plain"] = self._hint
        return bundle


def render_png(draw: DrawFunction, value: float, figsize, dpi: int) -> bytes:
    """PNG bytes of a fresh figure drawn by ``draw(fig, value)``; nothing touches the disk."""
    fig = plt.figure(figsize=figsize, dpi=dpi)
    try:
        draw(fig, value)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return buffer.getvalue()


def live_slider(
    draw: DrawFunction,
    values: Sequence[float],
    description: str,
    *,
    initial: float | None = None,
    fmt: str = ".3g",
    figsize: tuple[float, float] = (8, 3.2),
    dpi: int = 90,
):
    """An ipywidgets slider over ``values`` that redraws ``draw(fig, value)`` live.

    Each frame is rendered to PNG and shown in an ``Image`` widget, so the widget needs no
    output capture: it behaves the same in JupyterLab, under nbval and in saved widget state.
    """
    options = _options(values, fmt)
    slider = widgets.SelectionSlider(
        options=options,
        value=values[len(values) // 2] if initial is None else initial,
        description=description,
        continuous_update=False,
        style={"description_width": "initial"},
        layout=widgets.Layout(width="60%"),
    )
    image = widgets.Image(format="png", layout=widgets.Layout(width=f"{figsize[0] * dpi:.0f}px"))

    def redraw(change=None) -> None:
        image.value = render_png(draw, slider.value, figsize, dpi)

    slider.observe(redraw, names="value")
    redraw()
    return LiveSlider([slider, image], description=description)


class ScrubbableFigure:
    """Frames of ``draw(fig, value)`` for each value, shown with a JavaScript slider.

    In HTML it is matplotlib's ``to_jshtml`` player (frames embedded as PNG, so it works in a
    static page); where HTML cannot run (PDF, plain text) it falls back to the still frame at
    ``still`` (default: the middle value).
    """

    def __init__(
        self,
        draw: DrawFunction,
        values: Sequence[float],
        label: str,
        *,
        still: float | None = None,
        fmt: str = ".3g",
        figsize: tuple[float, float] = (8, 3.2),
        dpi: int = 72,
    ):
        self.values = [v for _, v in _options(values, fmt)]
        self.label = label
        self.fmt = fmt
        self.still = self.values[len(self.values) // 2] if still is None else still

        def titled(fig: Figure, value: float) -> None:
            draw(fig, value)
            fig.suptitle(f"{label} = {format(value, fmt)}", fontsize=10)

        fig = plt.figure(figsize=figsize, dpi=dpi)

        def frame(value: float):
            fig.clear()
            titled(fig, value)
            return []

        animation = FuncAnimation(fig, frame, frames=self.values, blit=False, repeat=False)
        self._html = _EXTERNAL_STYLESHEET.sub("", animation.to_jshtml(fps=4, default_mode="once"))
        plt.close(fig)
        still_png = render_png(titled, self.still, figsize, int(dpi * 1.5))
        self._png = base64.b64encode(still_png).decode("ascii")

    def _repr_mimebundle_(self, include=None, exclude=None):
        text = (
            f"<{len(self.values)} frames, {self.label} from {format(self.values[0], self.fmt)} "
            f"to {format(self.values[-1], self.fmt)}>"
        )
        return {"text/html": self._html, "image/png": self._png, "text/plain": text}


def scrubbable_figure(draw: DrawFunction, values: Sequence[float], label: str, **kwargs):
    """Static stand-in for :func:`live_slider`; see :class:`ScrubbableFigure`."""
    return ScrubbableFigure(draw, values, label, **kwargs)
