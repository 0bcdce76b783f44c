"""Shared test settings: hypothesis runs derandomised in CI so failures are reproducible."""

import os
from collections import defaultdict

from hypothesis import HealthCheck, settings

settings.register_profile("default", deadline=None, max_examples=100)
settings.register_profile(
    "ci",
    deadline=None,
    max_examples=200,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci" if os.environ.get("CI") else "default")


def pytest_report_header(config):
    """Name the BLAS and its kernel family: floating-point results differ between them."""
    from threadpoolctl import threadpool_info

    blas = [info for info in threadpool_info() if info.get("user_api") == "blas"]
    return [
        f"BLAS: {info.get('internal_api')} {info.get('version')}, kernel "
        f"{info.get('architecture')}, {info.get('num_threads')} threads"
        for info in blas
    ]


def pytest_terminal_summary(terminalreporter):
    """Print how long each notebook's cells took under nbval (the issues track these)."""
    seconds = defaultdict(float)
    for reports in terminalreporter.stats.values():
        for report in reports:
            nodeid = getattr(report, "nodeid", "")
            if ".ipynb::" in nodeid and getattr(report, "when", "") == "call":
                seconds[nodeid.split("::")[0]] += report.duration
    if seconds:
        terminalreporter.section("notebook execution times")
        for notebook, total in sorted(seconds.items(), key=lambda item: -item[1]):
            terminalreporter.write_line(f"{total:7.1f} s  {notebook}")
        terminalreporter.write_line(f"{sum(seconds.values()):7.1f} s  all notebooks")
