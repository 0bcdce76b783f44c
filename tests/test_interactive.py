"""One figure, three representations, all rendered without a kernel or a display."""

import base64
import json
import re

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from mlderive.interactive import explore, render_png  # noqa: E402

calls = []


def draw(fig, value):
    calls.append(value)
    ax = fig.subplots()
    ax.plot([0, 1], [0, value])
    ax.set_title(f"height {value}")


def test_moving_the_slider_redraws_with_the_new_value():
    figure = explore(draw, [1.0, 2.0, 3.0], "v", still=1.0)
    calls.clear()
    before = bytes(figure.image.value)
    figure.slider.value = 3.0  # what the front end does when the reader drags the slider
    assert calls == [3.0]
    after = bytes(figure.image.value)
    assert after.startswith(b"\x89PNG") and after != before
    assert after == render_png(figure._titled, 3.0, figure.figsize, figure.dpi)[0]


def test_the_bundle_has_a_live_view_a_player_and_the_still_frame():
    calls.clear()
    figure = explore(draw, [1.0, 2.0, 3.0], "v", still=3.0)
    assert sorted(calls) == [1.0, 2.0, 3.0]  # every frame rendered once, in advance
    bundle = figure._repr_mimebundle_()
    assert "model_id" in bundle["application/vnd.jupyter.widget-view+json"]
    assert base64.b64decode(bundle["image/png"]) == figure.frames[2]
    assert bundle["text/plain"] == "Figure over v from 1 to 3, shown at 3"
    page = bundle["text/html"]
    assert "http://" not in page and "https://" not in page
    assert 'type="range"' in page and 'max="2"' in page and 'value="2"' in page
    data = json.loads(re.search(r'class="mlx-data">(.*?)</script>', page).group(1))
    assert data["values"] == ["1", "2", "3"] and data["frames"][2] == ""
    first = base64.b64decode(data["frames"][0].split(",", 1)[1])
    assert first == figure.frames[0]


def test_text_sizes_are_measured():
    figure = explore(draw, [1.0, 2.0], "v", dpi=100)
    assert figure.smallest_text_px == pytest.approx(12 * 100 / 72)


def test_bad_values_are_refused():
    with pytest.raises(ValueError, match="at least two"):
        explore(draw, [1.0], "v")
    with pytest.raises(ValueError, match="not one of the values"):
        explore(draw, [1.0, 2.0], "v", still=1.5)
