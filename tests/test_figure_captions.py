"""Every figure a chapter shows has a caption.

A code cell whose stored output holds an image becomes a numbered figure in the PDF and on the
website only through its ``mystnb.figure`` metadata (caption and name). Without it the figure
has no number, the numbering the text refers to drifts, and the PDF reader sees an image with
no words. This runs on the stored notebooks, without a build.
"""

import json
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))
HIDDEN = {"remove-output", "remove-cell"}


def uncaptioned_figures(path: Path) -> list[str]:
    """Ids of the code cells that show an image but carry no figure caption."""
    missing = []
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code" or HIDDEN & set(cell["metadata"].get("tags", [])):
            continue
        shows_image = any("image/png" in out.get("data", {}) for out in cell.get("outputs", []))
        figure = cell["metadata"].get("mystnb", {}).get("figure", {})
        if shows_image and not (figure.get("caption") and figure.get("name")):
            missing.append(cell["id"])
    return missing


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_every_figure_has_a_caption_and_a_name(path):
    missing = uncaptioned_figures(path)
    assert not missing, (
        f"{path.name}: cells {missing} show a figure with no caption; add "
        '"mystnb": {"figure": {"caption": "...", "name": "fig-..."}} to the cell metadata.'
    )
