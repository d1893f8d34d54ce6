"""Browser tests: Debian's headless Chromium drives the H5 page served by the real `make run` process.

The server is the e2e layer's (`base_url`: tools/run_local.py on a free port, one per test worker). A missing
chromium fails these tests with the install command; they never skip.
"""
from __future__ import annotations

import pytest

from tests.e2e.conftest import base_url  # noqa: F401 — the same live server fixture as the e2e layer


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium():
    from tests.browser import driver

    try:
        browser = driver.launch()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield browser
    browser.close()


@pytest.fixture()
def browser(chromium):
    """The session's Chromium, checked after each test: the page asked no host but the API's."""
    chromium.blocked.clear()
    yield chromium
    assert chromium.blocked == [], f"the page tried to reach other hosts: {chromium.blocked}"


@pytest.fixture()
def page(browser, base_url):  # noqa: F811
    page = browser.page(base_url)
    yield page
    errors = page.js_errors
    page.context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"
