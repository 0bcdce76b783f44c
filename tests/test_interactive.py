"""The widget and its static stand-in share one drawing function and render without a display."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from mlderive.interactive import live_slider, scrubbable_figure  # noqa: E402

calls = []


def draw(fig, value):
    calls.append(value)
    ax = fig.subplots()
    ax.plot([0, 1], [0, value])


def test_live_slider_renders_the_initial_value_as_png():
    calls.clear()
    box = live_slider(draw, [1.0, 2.0, 3.0], "v")
    slider, image = box.children
    assert slider.value == 2.0 and calls == [2.0]
    assert bytes(image.value).startswith(b"\x89PNG")
    slider.value = 3.0
    assert calls == [2.0, 3.0]
    assert box._repr_mimebundle_()["text/plain"].startswith("<live slider over v")


def test_scrubbable_figure_has_html_frames_and_a_still_png():
    calls.clear()
    figure = scrubbable_figure(draw, [1.0, 2.0, 3.0], "v")
    bundle = figure._repr_mimebundle_()
    assert "<input" in bundle["text/html"] and "anim" in bundle["text/html"]
    assert "https://" not in bundle["text/html"] and "http://" not in bundle["text/html"]
    assert bundle["image/png"] and bundle["text/plain"] == "<3 frames, v from 1 to 3>"
    assert sorted(set(calls)) == [1.0, 2.0, 3.0]


def test_a_slider_needs_two_values():
    with pytest.raises(ValueError, match="at least two"):
        live_slider(draw, [1.0], "v")
