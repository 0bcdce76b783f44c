"""The notebooks follow the testing rule of tests/README.md.

nbval runs every cell and compares stored outputs only where a cell is tagged
``nbval-check-output``; such a cell must print plain text only (no figure, no widget, no HTML),
and no chapter may pin BLAS threads or kernels, since the claims must hold for any.
"""

import json
import re
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))
CHECK_OUTPUT = "nbval-check-output"
# Tags nbval reads; only the one above is part of the rule (lax mode ignores every other output).
NBVAL_TAGS = {"nbval-ignore-output", "nbval-skip", "nbval-raises-exception", "raises-exception"}
PINNING = re.compile(
    r"(OPENBLAS|OMP|MKL|VECLIB|NUMEXPR)_[A-Z_]*|OPENBLAS_CORETYPE|threadpool_limits|threadpoolctl"
)


def code_cells(path: Path) -> list[dict]:
    cells = json.loads(path.read_text())["cells"]
    return [cell for cell in cells if cell["cell_type"] == "code"]


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 14


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_no_chapter_pins_blas_threads_or_kernels(path):
    for cell in code_cells(path):
        source = "".join(cell["source"])
        assert not PINNING.search(source), f"{path.name} cell {cell['id']} sets BLAS threads"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_only_machine_independent_outputs_are_compared(path):
    for cell in code_cells(path):
        tags = set(cell.get("metadata", {}).get("tags", []))
        source = "".join(cell["source"])
        assert not tags & NBVAL_TAGS, f"{path.name} cell {cell['id']}: use only {CHECK_OUTPUT}"
        assert "NBVAL_" not in source, f"{path.name} cell {cell['id']}: use the tag, not a marker"
        if CHECK_OUTPUT not in tags:
            continue
        assert cell["outputs"], f"{path.name} cell {cell['id']} is compared but has no output"
        for output in cell["outputs"]:
            kinds = set(output.get("data", {})) or {output["output_type"]}
            assert kinds <= {"stream", "text/plain"}, (
                f"{path.name} cell {cell['id']} compares {sorted(kinds)}: "
                "only plain text is the same on every machine"
            )
