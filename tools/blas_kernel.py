"""Which OpenBLAS kernel family runs here, and which other family to test the notebooks under.

The book's claims must hold whatever kernels the BLAS picks: floating-point results differ in
their last bits between CPUs. `make test` in CI runs the notebooks a second time under another
kernel family than the machine's own (tests/README.md).

    python tools/blas_kernel.py own     # e.g. "Haswell"
    python tools/blas_kernel.py other   # "Haswell" on AVX-512, "Sandybridge" on AVX2; "" if none
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy  # noqa: F401  (loads OpenBLAS, so threadpoolctl can see it)
from threadpoolctl import threadpool_info


def own_family() -> str:
    """The kernel family OpenBLAS chose in this process (threadpoolctl's `architecture`)."""
    for library in threadpool_info():
        if library.get("internal_api") == "openblas":
            return str(library.get("architecture", ""))
    return ""


def cpu_flags() -> set[str]:
    """The CPU's feature flags on Linux, or an empty set elsewhere."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def other_family() -> str:
    """Another x86 kernel family this CPU can run, different from the one OpenBLAS picked.

    An empty string where there is none to choose (no OpenBLAS, or not an x86 CPU).
    """
    flags = cpu_flags()
    if "avx512f" in flags:
        candidates = ["Haswell", "SkylakeX"]
    elif "avx2" in flags:
        candidates = ["Sandybridge", "Haswell"]
    elif "avx" in flags:
        candidates = ["Nehalem", "Sandybridge"]
    else:
        return ""
    own = own_family()
    if not own:
        return ""
    return next(family for family in candidates if family.lower() != own.lower())


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "own"
    print(own_family() if which == "own" else other_family())
