"""Reporting hooks for every pytest run of this project (unit tests and notebooks alike):
the BLAS in the log header, and each notebook's execution time at the end."""

from collections import defaultdict


def pytest_report_header(config):
    """Name the BLAS and its kernel family: floating-point results differ between them."""
    import numpy  # noqa: F401  (loads the BLAS, so that threadpoolctl can see it)
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
