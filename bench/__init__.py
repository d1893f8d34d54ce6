"""`make bench`: each module in this package with a `run() -> dict[str, str]` contributes rows to one table."""
