"""Repositories: the only code that maps stored items ⇄ domain models, builds keys and conditions, and names the
transactions of each aggregate. Each has an in-memory twin; one contract test class runs against both
(tests/contract/test_*_repository.py)."""
