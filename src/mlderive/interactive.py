"""One figure with a control, shown the right way in each medium.

A chapter writes ``draw(fig, value)`` once and displays ``explore(draw, values, label)``.
The result is one output whose MIME bundle carries three representations; each reader
picks the richest one it can show:

- ``application/vnd.jupyter.widget-view+json``: a live ipywidgets slider that redraws the
  figure (JupyterLab with a kernel);
- ``text/html``: a self-contained player over frames computed in advance (a slider, step
  and play buttons, PNG frames inline, a few lines of inline JavaScript; no network);
- ``image/png``: one still frame, chosen with ``still=`` (the PDF, and any reader without
  HTML).

The book's ``_config.yml`` tells each Sphinx builder which one to use
(``nb_mime_priority_overrides``): the website renders the HTML player, the PDF the PNG.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Callable, Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.text import Text

DrawFunction = Callable[[Figure, float], None]

#: Text sizes for every frame. The website's text column is about 780 px wide; a frame
#: 7.6 inches wide at 105 dpi fills it at about its own size, so 12 pt text (17.5 px) is at
#: least as large as the body text (16 px).
STYLE = {
    "font.size": 12,
    "axes.titlesize": 13,
    "figure.titlesize": 13,
    "legend.fontsize": 12,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
}


def _check_values(values: Sequence[float], still: float | None) -> list[float]:
    values = list(values)
    if len(values) < 2:
        raise ValueError(f"a control needs at least two values, got {len(values)}.")
    if still is not None and still not in values:
        raise ValueError(f"still={still!r} is not one of the values; pick one of {values}.")
    return values


def render_png(draw: DrawFunction, value: float, figsize, dpi: int) -> tuple[bytes, float]:
    """PNG bytes of a fresh figure drawn by ``draw(fig, value)``, and the height in pixels of
    its smallest text. Nothing touches the disk."""
    with plt.rc_context(STYLE):
        fig = plt.figure(figsize=figsize, dpi=dpi)
        try:
            draw(fig, value)
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=dpi)
            sizes = [
                text.get_fontsize()
                for text in fig.findobj(Text)
                if text.get_visible() and text.get_text().strip()
            ]
        finally:
            plt.close(fig)
    smallest_px = min(sizes, default=STYLE["font.size"]) * dpi / 72
    return buffer.getvalue(), smallest_px


_PLAYER_SCRIPT = """(function (root) {
  var data = JSON.parse(root.querySelector("script.mlx-data").textContent);
  var image = root.querySelector("img.mlx-frame");
  var range = root.querySelector("input.mlx-range");
  var shown = root.querySelector("output.mlx-value");
  var play = root.querySelector("button.mlx-play");
  var first = image.getAttribute("src");
  var timer = null;
  function show(i) {
    i = Math.max(0, Math.min(data.values.length - 1, i));
    range.value = i;
    image.src = data.frames[i] || first;
    image.alt = data.alts[i];
    shown.textContent = data.values[i];
  }
  function stop() { clearInterval(timer); timer = null; play.textContent = "\\u25B6"; }
  range.addEventListener("input", function () { stop(); show(+range.value); });
  root.querySelector("button.mlx-prev").addEventListener("click", function () {
    stop(); show(+range.value - 1); });
  root.querySelector("button.mlx-next").addEventListener("click", function () {
    stop(); show(+range.value + 1); });
  play.addEventListener("click", function () {
    if (timer) { stop(); return; }
    if (+range.value >= data.values.length - 1) { show(0); }
    play.textContent = "\\u275A\\u275A";
    timer = setInterval(function () {
      if (+range.value >= data.values.length - 1) { stop(); } else { show(+range.value + 1); }
    }, 700);
  });
})(document.currentScript.parentElement);"""


class Explorer(widgets.VBox):
    """A figure over ``values`` with a control; see the module docstring.

    ``slider`` and ``image`` are the live widgets; ``frames`` holds the PNG of every value
    (computed once, for the HTML player), ``still`` the value shown where nothing can move.
    """

    def __init__(
        self,
        draw: DrawFunction,
        values: Sequence[float],
        label: str,
        *,
        still: float | None = None,
        fmt: str = ".3g",
        figsize: tuple[float, float] = (7.6, 3.6),
        dpi: int = 105,
    ):
        values = _check_values(values, still)
        self.label, self.fmt, self.figsize, self.dpi = label, fmt, figsize, dpi
        self.values = values
        self.still = values[len(values) // 2] if still is None else still
        self._draw = draw
        rendered = [render_png(self._titled, value, figsize, dpi) for value in values]
        self.frames = [png for png, _ in rendered]
        self.smallest_text_px = min(px for _, px in rendered)

        self.slider = widgets.SelectionSlider(
            options=[(self._format(v), v) for v in values],
            value=self.still,
            description=label,
            continuous_update=False,
            style={"description_width": "initial"},
            layout=widgets.Layout(width="95%", max_width="40em"),
        )
        self.image = widgets.Image(
            value=self.frames[values.index(self.still)],
            format="png",
            layout=widgets.Layout(max_width="100%", height="auto"),
        )
        self.slider.observe(self._redraw, names="value")
        super().__init__([self.slider, self.image])

    def _format(self, value: float) -> str:
        return format(value, self.fmt)

    def _titled(self, fig: Figure, value: float) -> None:
        # the title first, so that a tight_layout() inside draw leaves room for it
        fig.suptitle(f"{self.label} = {self._format(value)}")
        self._draw(fig, value)

    def _redraw(self, change=None) -> None:
        self.image.value, _ = render_png(self._titled, self.slider.value, self.figsize, self.dpi)

    def _uri(self, index: int) -> str:
        return "data:image/png;base64," + base64.b64encode(self.frames[index]).decode("ascii")

    def to_html(self) -> str:
        """The static player: every frame inline, the still one showing first."""
        start = self.values.index(self.still)
        alts = [f"figure at {self.label} = {self._format(v)}" for v in self.values]
        data = {
            "values": [self._format(v) for v in self.values],
            "alts": alts,
            # the starting frame is already the <img>'s source; do not embed it twice
            "frames": ["" if i == start else self._uri(i) for i in range(len(self.values))],
        }
        payload = json.dumps(data).replace("<", "\\u003c")
        label = html.escape(self.label)
        return (
            f'<div class="mlx-explore" data-smallest-text-px="{self.smallest_text_px:.1f}">'
            f'<img class="mlx-frame" src="{self._uri(start)}" alt="{html.escape(alts[start])}">'
            '<div class="mlx-controls">'
            '<button type="button" class="mlx-play" aria-label="play">\u25b6</button>'
            '<button type="button" class="mlx-prev" aria-label="previous">\u2039</button>'
            f'<label class="mlx-label"><span>{label}</span>'
            f'<input type="range" class="mlx-range" min="0" max="{len(self.values) - 1}" '
            f'step="1" value="{start}" aria-label="{label}"></label>'
            '<button type="button" class="mlx-next" aria-label="next">\u203a</button>'
            f'<output class="mlx-value">{html.escape(self._format(self.still))}</output>'
            "</div>"
            f'<script type="application/json" class="mlx-data">{payload}</script>'
            f"<script>{_PLAYER_SCRIPT}</script>"
            "</div>"
        )

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle["text/html"] = self.to_html()
        bundle["image/png"] = base64.b64encode(self.frames[self.values.index(self.still)]).decode()
        bundle["text/plain"] = (
            f"Figure over {self.label} from {self._format(self.values[0])} to "
            f"{self._format(self.values[-1])}, shown at {self._format(self.still)}"
        )
        return bundle


def explore(draw: DrawFunction, values: Sequence[float], label: str, **kwargs) -> Explorer:
    """A figure ``draw(fig, value)`` with a control over ``values``; see :class:`Explorer`.

    ``still`` (one of ``values``, default the middle one) is the frame shown first on the
    website and alone in print: pick the one the text talks about.
    """
    return Explorer(draw, values, label, **kwargs)
