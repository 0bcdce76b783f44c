"""No measured number is typed by hand: every one in the prose is pasted in from a cell.

The rule (which numbers look measured, and the short lists of allowed constants, quotations
from the reports and settings) is in tests/typed_numbers.py.
"""

import pytest
from typed_numbers import pages, typed_numbers


@pytest.mark.parametrize("path", pages(), ids=lambda path: path.name)
def test_prose_has_no_typed_measurement(path):
    found = typed_numbers(path)
    assert not found, (
        "numbers typed by hand (glue them from the cell that computes them, or, if they are a "
        "setting or a quotation, add them with a reason to tests/typed_numbers.py):\n"
        + "\n".join(f"  {where}: {number} in '...{context}...'" for where, number, context in found)
    )
