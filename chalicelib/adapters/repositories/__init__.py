"""Repositories: the only code that maps stored items ⇄ domain models and knows their keys and indexes (built in
adapters/keys.py). Each has an in-memory twin; tests/contract/test_repositories.py runs one contract against both."""
