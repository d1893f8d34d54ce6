"""Headless Debian Chromium driven by Playwright, and the H5 page's flows as a person would click them.

Shared by the browser tests and `make screenshots`. The browser is always /usr/bin/chromium (Debian's package,
installed by `make browser`); Playwright's own browser download is never used. Every request the page makes is
recorded, and any request to another host than the API's is aborted and kept, so a test can say none happened.
"""
from __future__ import annotations

import itertools
import os
import re
import shutil
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlsplit

CHROMIUM = os.environ.get("HMB_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage"]
PHONE = {"width": 390, "height": 844}
# One server serves a whole test session: phones and ID numbers must not repeat within it.
_seq = itertools.count(1)


def require_chromium() -> str:
    """The path of Debian's chromium, or a clear failure (never a skip): the browser tests are part of `make test`."""
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if not path:
        raise RuntimeError(f"Debian's chromium is not installed ({CHROMIUM} missing): run `make browser` (as root: "
                           "apt-get install -y --no-install-recommends chromium fonts-noto-cjk)")
    return path


@dataclass
class Browser:
    """One Chromium; pages get a fresh context (storage) each."""

    playwright: object
    browser: object
    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    def page(self, base_url: str, *, width: int = PHONE["width"], height: int = PHONE["height"], elder: bool = False,
             init_script: str | None = None):
        origin = _origin(base_url)
        context = self.browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN",
                                           timezone_id="Asia/Shanghai", device_scale_factor=1)
        if elder:
            context.add_init_script("localStorage.setItem('hmb.elder', '1')")
        if init_script:
            context.add_init_script(init_script)

        def guard(route):
            url = route.request.url
            self.requests.append(url)
            if url.startswith(("data:", "blob:", "about:")) or _origin(url) == origin:
                route.continue_()
            else:
                self.blocked.append(url)
                route.abort()

        context.route("**/*", guard)
        page = context.new_page()
        page.set_default_timeout(20_000)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.js_errors = errors  # type: ignore[attr-defined]
        return page

    def close(self) -> None:
        try:
            self.browser.close()
        finally:
            self.playwright.stop()


def launch() -> Browser:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - requirements-dev.txt pins it
        raise RuntimeError("the playwright package is missing: pip install -r requirements-dev.txt") from exc
    path = require_chromium()
    pw = sync_playwright().start()
    try:
        # launch() gives Chromium a fresh temporary --user-data-dir of its own each time (and removes it on close);
        # each page then gets a new context, so storage (the token, 长辈模式) never leaks between tests.
        browser = pw.chromium.launch(executable_path=path, headless=True, args=LAUNCH_ARGS)
    except Exception:
        pw.stop()
        raise
    return Browser(pw, browser)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# ---- people ------------------------------------------------------------------------------------------------------
def unique_phone() -> str:
    return f"139{os.getpid() % 10000:04d}{next(_seq):04d}"


def unique_id(born: date = date(1980, 5, 1), region: str = "331102", female: bool = False) -> str:
    from chalicelib.domain.resident_id import make_test_id

    return make_test_id(region, born, (os.getpid() * 7 + next(_seq) * 2) % 1000, female=female)


# ---- flows -------------------------------------------------------------------------------------------------------
def expect(locator):
    from playwright.sync_api import expect as _expect

    return _expect(locator)


def open_page(page, base_url: str, route: str = "#/") -> None:
    page.goto(f"{base_url}/h5{route}")
    # Locators, not wait_for_function: the page's Content-Security-Policy forbids the eval that would need.
    page.wait_for_selector("main#view > :not(.loading)", state="attached")
    page.locator("main#view > .loading").wait_for(state="detached")


def open_sandbox(page) -> None:
    panel = page.locator("#sandbox-panel")
    if panel.get_attribute("open") is None:
        panel.locator("summary").click()


def set_clock(page, when: str = "2021-01-15T10:00") -> None:
    open_sandbox(page)
    page.fill("#sb-now", when)
    page.click("#sb-set-clock")
    page.locator("#sb-out", has_text="服务时钟").wait_for()


def register_person(page, name: str, id_number: str, city: str = "331100") -> None:
    open_sandbox(page)
    page.select_option("#sb-city", city)
    page.fill("#sb-name", name)
    page.fill("#sb-id", id_number)
    page.click("#sb-register")
    page.locator("#sb-out", has_text="已登记").wait_for()


def log_in(page, base_url: str, phone: str) -> None:
    open_page(page, base_url, "#/login")
    page.fill("#login-phone", phone)
    page.click("#send-code")
    page.wait_for_selector("#sms-sent:not([hidden])")
    open_sandbox(page)
    page.fill("#sb-phone", phone)
    page.click("#sb-read-sms")
    page.locator("#sb-out", has_text="验证码").wait_for()
    expect(page.locator("#login-code")).to_have_value(re.compile(r"^[0-9]{6}$"))
    page.locator("form[aria-label='短信验证码登录'] button[type=submit]").click()
    page.wait_for_selector("form[aria-label='实名认证'], #identity-card")


def bind(page, name: str, id_number: str) -> None:
    page.fill("#bind-name", name)
    page.fill("#bind-id", id_number)
    page.locator("form[aria-label='实名认证'] button[type=submit]").click()
    page.wait_for_selector("#identity-card")


def buy_self(page, base_url: str, plan_id: str = "lishui-2021", method: str = "personal_account") -> None:
    open_page(page, base_url, f"#/plans/{plan_id}")
    page.wait_for_selector("#enrol-submit")
    page.check(f"input[name=payment_method][value={method}]")
    page.click("#enrol-submit")
    page.wait_for_selector("#order-card, form[aria-label='参保'] :is(.form-error, .field-error):not(:empty)")
    if not page.locator("#order-card").count():
        raise AssertionError("enrolment refused: " + page.locator("form[aria-label='参保']").inner_text())


def estimate_w1(page, base_url: str) -> None:
    open_page(page, base_url, "#/estimate")
    page.select_option("[name=plan_id]", "lishui-2021")
    page.fill("[name=service_date]", "2021-05-01")
    page.select_option("[name=setting]", "inpatient")
    page.fill("[name=in_policy_after_catastrophic_fen]", "30000")
    page.fill("[name=self_pay_fen]", "50000")
    page.locator("form[aria-label='按结算单测算'] button[type=submit]").click()
    page.wait_for_selector("#payout")


def member_ready(page, base_url: str, name: str = "张三") -> tuple[str, str]:
    """A logged-in, identity-bound member with a personal account, at a date when 浙丽保 2021 is on sale."""
    phone, id_number = unique_phone(), unique_id()
    open_page(page, base_url)
    set_clock(page)
    register_person(page, name, id_number)
    log_in(page, base_url, phone)
    bind(page, name, id_number)
    return phone, id_number


def submit_claim(page, base_url: str, payee: str, service_date: str = "2021-05-01") -> None:
    """A claim for the member's first policy: one inpatient bill (W1's amounts) and a payee account."""
    open_page(page, base_url, "#/claims/new")
    form = page.locator("form[aria-label='申请理赔']")
    form.locator("[name=service_date]").fill(service_date)
    form.locator("[name=setting]").select_option("inpatient")
    form.locator("[name=in_policy_after_catastrophic_fen]").fill("30000")
    form.locator("[name=self_pay_fen]").fill("50000")
    form.locator("[name=account_name]").fill(payee)
    form.locator("[name=bank_name]").fill("中国工商银行丽水分行")
    form.locator("[name=account_number]").fill("6222020000001234567")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#missing, form[aria-label='申请理赔'] :is(.form-error, .field-error):not(:empty)")
    if not page.locator("#missing").count():
        raise AssertionError("claim refused: " + form.inner_text())


def close_sandbox(page) -> None:
    if page.locator("#sandbox-panel[open]").count():
        page.locator("#sandbox-panel > summary").click()
