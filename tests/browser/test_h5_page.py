"""The H5 page in headless Chromium against `make run`: what a person on a phone sees and can do."""
from __future__ import annotations

import pytest

from tests.browser import driver

NO_HORIZONTAL_SCROLL = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"


def test_anonymous_estimate_of_w1_shows_46500_yuan(page, base_url):
    driver.estimate_w1(page, base_url)

    assert page.text_content("#payout") == "46,500.00 元"
    explanation = page.locator("#estimate-result li").all_text_contents()
    assert any("18,000.00" in line for line in explanation), explanation  # the deductible, explained in Chinese


def test_an_api_error_shows_its_chinese_message_next_to_the_field_it_names(page, base_url):
    driver.open_page(page, base_url, "#/login")
    page.fill("#login-phone", "12345")
    page.click("#send-code")

    error = page.locator("#login-phone-err")
    error.wait_for()
    assert page.get_attribute("#login-phone", "aria-invalid") == "true"
    assert "手机号" in error.text_content()


def test_a_malformed_amount_is_refused_beside_its_field_before_any_request(browser, page, base_url):
    driver.open_page(page, base_url, "#/estimate")
    page.wait_for_selector("body[data-raw-mode]", state="attached")  # the raw-bill probe has answered
    browser.requests.clear()
    page.fill("[name=self_pay_fen]", "12.345")
    page.locator("form[aria-label='按结算单测算'] button[type=submit]").click()

    slot = page.locator("#" + page.get_attribute("[name=self_pay_fen]", "id") + "-err")
    slot.wait_for()
    assert "金额" in slot.text_content()
    assert page.get_attribute("[name=self_pay_fen]", "aria-invalid") == "true"
    assert not [u for u in browser.requests if "/v1/estimates" in u]


def test_the_raw_bill_tab_is_there_exactly_when_the_api_takes_a_raw_bill(page, base_url):
    import json
    import urllib.error
    import urllib.request

    probe = {"plan_id": "lishui-2021", "bills": [{"service_date": "2021-05-01", "setting": "inpatient",
                                                  "hospital_level": 3, "basic_type": "employee",
                                                  "raw": {"total_fen": 10_000_000, "self_pay_fen": 2_000_000}}]}
    request = urllib.request.Request(base_url + "/v1/estimates", json.dumps(probe).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            api_status = answer.status
    except urllib.error.HTTPError as error:
        api_status = error.code
    assert api_status in (200, 400)

    driver.open_page(page, base_url, "#/estimate")
    page.wait_for_selector("body[data-raw-mode]", state="attached")
    raw_tab = page.locator(".seg button[data-mode=raw]")
    if api_status == 400:
        assert page.get_attribute("body", "data-raw-mode") == "no"
        assert not raw_tab.is_visible() and not page.locator(".seg").is_visible()
        return
    assert page.get_attribute("body", "data-raw-mode") == "yes"
    raw_tab.click()
    form = page.locator("form[aria-label='按医院账单测算']")
    form.locator("[name=plan_id]").select_option("lishui-2021")
    form.locator("[name=service_date]").fill("2021-05-01")
    form.locator("[name=total_fen]").fill("100000")
    form.locator("[name=self_pay_fen]").fill("20000")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#layers")

    def fen(selector: str) -> int:
        return int(page.text_content(selector).replace(",", "").replace(" 元", "").replace(".", ""))

    parts = sum(fen(f"#layer-{k}") for k in ("basic", "catastrophic", "huiminbao", "member"))
    assert parts == 10_000_000
    assert page.text_content("#payout") == page.text_content("#layer-huiminbao")

    form.locator("[name=plan_id]").select_option("dengfeng-2018")  # 登封 has parameters for 城乡居民 only
    form.locator("[name=basic_type]").select_option("employee")
    form.locator("button[type=submit]").click()
    slot = page.locator("#" + form.locator("[name=basic_type]").get_attribute("id") + "-err")
    driver.expect(slot).to_contain_text("职工医保")


def test_log_in_bind_buy_for_self_and_see_the_policy(page, base_url):
    driver.member_ready(page, base_url, name="张三")
    assert "331102********" in page.text_content("#identity-card")

    driver.buy_self(page, base_url)
    card = page.locator("#order-card")
    assert card.get_attribute("data-status") == "paid"
    assert "参保成功" in card.text_content()

    page.click("#order-card a[href='#/policies']")
    policy = page.locator("article.policy").first
    policy.wait_for()
    assert "浙丽保" in policy.text_content() and "张三" in policy.text_content()
    assert policy.locator(".benefit-start").text_content() == "2021-01-16"  # first-year grace: the day after paying
    assert "首年宽限期" in policy.locator(".waiting-rule").text_content()


def test_auto_renewal_can_be_switched_on_and_off_from_the_policy(page, base_url):
    driver.member_ready(page, base_url, name="李四")
    driver.buy_self(page, base_url)  # bought without auto-renewal
    driver.open_page(page, base_url, "#/policies")
    toggle = page.locator("article.policy input[type=checkbox]").first
    assert not toggle.is_checked()

    for wanted in (True, False):
        with page.expect_response(lambda r: r.url.endswith("/auto-renewal") and r.request.method == "PUT") as answer:
            toggle.click()
        assert answer.value.status == 200, answer.value.text()
        driver.expect(toggle).to_be_checked(checked=wanted)
        driver.expect(toggle).to_be_enabled()
        page.reload()  # what the API kept, not what the page assumed
        page.locator("article.policy").first.wait_for()
        driver.expect(page.locator("article.policy input[type=checkbox]").first).to_be_checked(checked=wanted)


def test_buy_for_a_parent_with_wechat_pay_completed_by_the_sandbox_simulator(page, base_url):
    driver.member_ready(page, base_url, name="王五")
    parent_id = driver.unique_id(born=driver.date(1955, 3, 8), female=True)
    driver.register_person(page, "赵六", parent_id)
    driver.open_page(page, base_url, "#/me")
    form = page.locator("form[aria-label='添加家庭成员']")
    form.locator("[name=name]").fill("赵六")
    form.locator("[name=id_number]").fill(parent_id)
    form.locator("[name=relationship]").select_option("parent")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#family h2:has-text('赵六'), form[aria-label='添加家庭成员'] :is(.form-error, .field-error):not(:empty)")
    assert page.locator("#family h2:has-text('赵六')").count(), page.locator("#family").inner_text()

    driver.open_page(page, base_url, "#/plans/lishui-2021")
    page.wait_for_selector("#enrol-submit")
    page.uncheck("input[name=insured][value=self]")
    page.locator("input[name=insured]:not([value=self])").first.check()
    page.check("input[name=payment_method][value=wechat_pay]")
    page.click("#enrol-submit")
    page.wait_for_selector("#order-card[data-status=pending_payment]")
    page.click("#sandbox-pay")  # outside WeChat, in the local stage: the simulator sends the signed notification

    page.wait_for_selector("#order-card[data-status=paid]")
    assert "赵六" in page.text_content("#order-card")


# Inside WeChat: a stand-in for the bridge WeChat injects. Like WeChat, it completes the payment (here through the
# sandbox's WeChat Pay simulator, which sends the signed notification) before it calls the page back.
WECHAT_BRIDGE = """
window.__wxCalls = [];
window.WeixinJSBridge = { invoke(name, params, callback) {
  window.__wxCalls.push({ name, params });
  const id = document.getElementById('order-card').dataset.orderId;
  const root = location.href.replace(/h5(#.*)?$/, '');
  fetch(root + 'sandbox/wechat/pay/' + id, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: '{"result": "success"}' }).then(() => callback({ err_msg: 'get_brand_wcpay_request:ok' }));
} };
"""


def test_inside_wechat_the_page_pays_through_the_jsapi_bridge(browser, base_url):
    page = browser.page(base_url, init_script=WECHAT_BRIDGE)
    try:
        driver.member_ready(page, base_url, name="吴九")
        driver.buy_self(page, base_url, method="wechat_pay")
        page.wait_for_selector("#order-card[data-status=pending_payment]")

        page.click("#wechat-pay")
        page.wait_for_selector("#order-card[data-status=paid]")

        calls = page.evaluate("window.__wxCalls")
        assert [c["name"] for c in calls] == ["getBrandWCPayRequest"]
        params = calls[0]["params"]
        assert set(params) >= {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
        assert params["package"].startswith("prepay_id=") and params["signType"] == "RSA"
        assert page.js_errors == []
    finally:
        page.context.close()


def test_claims_screen_lists_every_needed_document_once(page, base_url):
    driver.member_ready(page, base_url, name="孙七")
    driver.open_page(page, base_url, "#/claims")
    listed = page.locator("#claim-documents-list").text_content()
    for needed in ("发票", "结算单", "费用清单", "出院小结", "银行卡"):
        assert needed in listed


def test_a_claim_shows_its_timeline_and_what_is_missing(page, base_url):
    driver.member_ready(page, base_url, name="周八")
    driver.buy_self(page, base_url)
    driver.set_clock(page, "2021-06-01T10:00")  # after the stay in hospital

    driver.submit_claim(page, base_url, payee="周八")

    assert "理赔进度" in page.text_content("h1")
    missing = page.locator("#missing li").all_text_contents()
    assert missing == ["医疗费用发票", "医保结算单"]
    timeline = page.locator("ol.timeline li")
    assert timeline.count() >= 1
    assert "本人" in timeline.first.text_content()
    driver.open_page(page, base_url, "#/claims")
    assert page.locator("a.card[href^='#/claims/']").count() == 1


def test_elder_mode_enlarges_type_and_targets_and_is_remembered(page, base_url):
    driver.open_page(page, base_url, "#/estimate")
    normal = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")

    page.click("#elder-toggle")
    elder = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    smallest_target = page.evaluate(
        "Math.min(...[...document.querySelectorAll('main button, main input, main select, main a, header button')]"
        ".filter(e => e.offsetParent !== null).map(e => e.getBoundingClientRect().height))")
    assert normal < 20 <= elder
    assert smallest_target >= 48
    assert page.get_attribute("#elder-toggle", "aria-pressed") == "true"
    assert not page.locator("nav.tabs").is_visible()  # one task per screen: no tab bar, a way back instead

    page.reload()
    page.wait_for_selector("form")
    assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") == elder


@pytest.mark.parametrize("width", [360, 390, 430])
@pytest.mark.parametrize("elder", [False, True], ids=["normal", "elder"])
def test_no_horizontal_scroll_on_phone_widths(browser, base_url, width, elder):
    page = browser.page(base_url, width=width, elder=elder)
    try:
        driver.estimate_w1(page, base_url)
        for route in ("#/", "#/plans", "#/login"):
            assert page.evaluate(NO_HORIZONTAL_SCROLL), f"{route} before"
            driver.open_page(page, base_url, route)
            assert page.evaluate(NO_HORIZONTAL_SCROLL), route
        assert page.js_errors == []
    finally:
        page.context.close()


def test_the_page_only_talks_to_the_api_and_loads_nothing_from_elsewhere(browser, page, base_url):
    browser.requests.clear()
    driver.estimate_w1(page, base_url)

    assert browser.requests, "requests were recorded"
    assert all(u.startswith(base_url + "/") for u in browser.requests), browser.requests
    assert any(u.startswith(base_url + "/v1/estimates") for u in browser.requests)


def test_a_deployed_stage_page_has_no_sandbox_panel_and_calls_no_sandbox_route(browser, base_url):
    import re

    page = browser.page(base_url)

    def as_deployed(route):  # the page as a deployed stage serves it (its stage flag), against this server
        response = route.fetch()
        route.fulfill(response=response, body=response.text().replace('content="local"', 'content="prod"'))

    page.route(re.compile(r".*/h5$"), as_deployed)
    try:
        browser.requests.clear()
        driver.estimate_w1(page, base_url)

        assert page.text_content("#payout") == "46,500.00 元"
        assert page.locator("#sandbox-panel").count() == 0
        assert not [u for u in browser.requests if "/sandbox" in u]
        assert page.js_errors == []
    finally:
        page.context.close()
