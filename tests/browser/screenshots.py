"""`make screenshots`: the H5 page at 390×844 (normal and 长辈模式), written to docs/screenshots/*.png.

Starts its own `make run` process (tools/run_local.py on a free port) and Debian's headless Chromium, clicks through
the flows as a person would, and saves one PNG per screen. `make test` never calls this, so it never rewrites them.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.browser import driver
from tests.e2e.conftest import POLL_INTERVAL_SECONDS, PROJECT_DIR, STARTUP_TIMEOUT_SECONDS, _free_port, _healthy, _stop

OUT = Path(PROJECT_DIR) / "docs" / "screenshots"


def serve():
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HMB_"))} | {"PORT": str(port)}
    process = subprocess.Popen([sys.executable, "tools/run_local.py"], cwd=PROJECT_DIR, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not _healthy(url):
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process)
            raise SystemExit("run_local.py did not start")
        time.sleep(POLL_INTERVAL_SECONDS)
    return process, url


def shot(page, name: str, scroll_to: str | None = None) -> None:
    driver.close_sandbox(page)
    if scroll_to:
        page.locator(scroll_to).first.evaluate("e => e.scrollIntoView({block: 'start'})")
        page.evaluate("window.scrollBy(0, -70)")  # clear the sticky header
    else:
        page.evaluate("window.scrollTo(0, 0)")
    page.evaluate("document.getElementById('sandbox-slot').hidden = true")  # the product, not the local tools
    page.wait_for_timeout(150)  # let the scroll settle before the pixels are read (not a timing assertion)
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path))
    page.evaluate("document.getElementById('sandbox-slot').hidden = false")
    print(f"{path.relative_to(PROJECT_DIR)}: {path.stat().st_size:,} bytes")


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    process, base = serve()
    browser = driver.launch()
    try:
        for elder in (False, True):
            prefix = "elder" if elder else "normal"
            page = browser.page(base, elder=elder)
            driver.open_page(page, base)
            shot(page, f"{prefix}-1-home")
            driver.estimate_w1(page, base)
            shot(page, f"{prefix}-2-estimate", scroll_to="#estimate-result")
            name = "李秀英" if elder else "张三"
            driver.member_ready(page, base, name=name)
            driver.open_page(page, base, "#/plans/lishui-2021")
            page.wait_for_selector("#enrol-submit")
            shot(page, f"{prefix}-3-enrol", scroll_to="form[aria-label='参保']")
            driver.buy_self(page, base)
            driver.open_page(page, base, "#/policies")
            page.locator("article.policy").first.wait_for()
            shot(page, f"{prefix}-4-policies")
            driver.set_clock(page, "2021-06-01T10:00")
            driver.submit_claim(page, base, payee=name)
            shot(page, f"{prefix}-5-claim")
            page.context.close()
        if browser.blocked:
            raise SystemExit(f"the page tried to reach other hosts: {browser.blocked}")
    finally:
        browser.close()
        _stop(process)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
