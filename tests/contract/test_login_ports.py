"""Login ports — WeChat code-to-session, SMS gateway, subscribe notifications: the simulator and the real adapter
(driven through a fake HTTP session, no network) answer the same way."""
import json
from dataclasses import dataclass
from datetime import datetime

import pytest
import requests

from chalicelib.adapters.clock import CHINA_TZ, SandboxClock
from chalicelib.adapters.notifications import RecordingNotifier, WeChatSubscribeNotifier
from chalicelib.adapters.sms import HttpSmsGateway, SimulatedSms, SmsUnavailable
from chalicelib.adapters.wechat_login import (
    JSCODE2SESSION_URL,
    SimulatedWeChatLogin,
    WeChatCodeRejected,
    WeChatLogin,
    WeChatUnavailable,
)
from chalicelib.config import get_settings


@dataclass
class FakeResponse:
    status_code: int
    text: str


class FakeSession:
    """Answers queued responses (or raises queued exceptions) and records each request."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[dict] = []

    def _answer(self, method, url, **kwargs):
        self.requests.append({"method": method, "url": url, **kwargs})
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        return FakeResponse(status, body if isinstance(body, str) else json.dumps(body))

    def get(self, url, **kwargs):
        return self._answer("GET", url, **kwargs)

    def post(self, url, **kwargs):
        return self._answer("POST", url, **kwargs)


def _real_wechat(*answers):
    settings = get_settings().__class__(**{**get_settings().__dict__, "wechat_appid": "wx123",
                                           "wechat_app_secret": "s3cret"})
    session = FakeSession(*answers)
    return WeChatLogin(settings, session=session), session


# ---- WeChat jscode2session -----------------------------------------------------------------------------------
def _simulated_ok(code):
    return SimulatedWeChatLogin(), code


def _real_ok(code):
    adapter, _ = _real_wechat((200, {"openid": "o-real-1", "session_key": "sk"}))
    return adapter, code


@pytest.mark.parametrize("make", [_simulated_ok, _real_ok], ids=["simulator", "real"])
def test_a_good_code_gives_an_openid(make):
    adapter, code = make("081abcDEF")
    session = adapter.code_to_session(code)
    assert session.openid
    assert session.session_key not in repr(session)


def _simulated_rejecting():
    return SimulatedWeChatLogin(), "invalid-code-1"


def _real_rejecting():
    adapter, _ = _real_wechat((200, {"errcode": 40029, "errmsg": "invalid code"}))
    return adapter, "081abc"


@pytest.mark.parametrize("make", [_simulated_rejecting, _real_rejecting], ids=["simulator", "real"])
def test_a_bad_code_is_rejected(make):
    adapter, code = make()
    with pytest.raises(WeChatCodeRejected) as caught:
        adapter.code_to_session(code)
    assert caught.value.errcode == 40029


def test_the_simulator_maps_a_code_to_the_same_openid_every_time():
    sim = SimulatedWeChatLogin()
    assert sim.code_to_session("member-a").openid == sim.code_to_session("member-a").openid
    assert sim.code_to_session("member-a").openid != sim.code_to_session("member-b").openid
    assert sim.code_to_session("member-a").openid.startswith("osim_")


@pytest.mark.parametrize("code", ["has space", "x" * 65, "中文"])
def test_the_simulator_rejects_codes_wechat_would_never_issue(code):
    with pytest.raises(WeChatCodeRejected):
        SimulatedWeChatLogin().code_to_session(code)


def test_the_real_adapter_calls_jscode2session_with_the_app_credentials_and_a_timeout():
    adapter, session = _real_wechat((200, '{"openid": "o1", "session_key": "k", "unionid": "u1"}'))
    result = adapter.code_to_session("081abc")
    request = session.requests[0]
    assert request["method"] == "GET" and request["url"] == JSCODE2SESSION_URL
    assert request["params"] == {"appid": "wx123", "secret": "s3cret", "js_code": "081abc",
                                 "grant_type": "authorization_code"}
    assert request["timeout"] == 3
    assert (result.openid, result.unionid) == ("o1", "u1")


@pytest.mark.parametrize("errcode", [40163, 40226])
def test_a_used_code_or_a_blocked_user_is_a_rejected_code(errcode):
    adapter, _ = _real_wechat((200, {"errcode": errcode, "errmsg": "no"}))
    with pytest.raises(WeChatCodeRejected):
        adapter.code_to_session("081abc")


@pytest.mark.parametrize("answer", [
    requests.ConnectTimeout("slow"),
    requests.ConnectionError("down"),
    (502, "bad gateway"),
    (200, "<html>not json</html>"),
    (200, {"errcode": -1, "errmsg": "system error"}),
    (200, {"errcode": 45011, "errmsg": "api minute-quota reach limit"}),
    (200, {"errcode": 40125, "errmsg": "invalid appsecret"}),
    (200, {"session_key": "no openid"}),
], ids=["timeout", "connection", "http-502", "not-json", "busy", "quota", "bad-secret", "no-openid"])
def test_wechat_trouble_that_is_not_the_members_fault_is_unavailable(answer):
    adapter, _ = _real_wechat(answer)
    with pytest.raises(WeChatUnavailable):
        adapter.code_to_session("081abc")


def test_the_real_adapter_refuses_to_start_without_credentials():
    settings = get_settings().__class__(**{**get_settings().__dict__, "wechat_app_secret": ""})
    with pytest.raises(RuntimeError):
        WeChatLogin(settings)


# ---- SMS gateway ---------------------------------------------------------------------------------------------
def _gateway(*answers):
    session = FakeSession(*answers)
    return HttpSmsGateway("https://sms.example.test/send", "tok", "惠民保", "T1", session=session), session


def test_the_simulator_keeps_the_last_code_per_phone_with_the_time_sent():
    clock = SandboxClock(datetime(2021, 4, 15, 10, 0, tzinfo=CHINA_TZ))
    sms = SimulatedSms(clock)
    sms.send_code("13800138000", "111111")
    sms.send_code("13800138000", "222222")
    assert sms.last("13800138000").code == "222222"
    assert sms.last("13800138000").sent_at == datetime(2021, 4, 15, 10, 0, tzinfo=CHINA_TZ)
    assert sms.last("13900139000") is None


def test_the_gateway_posts_the_code_to_the_provider_with_its_token():
    gateway, session = _gateway((200, {"ok": True}))
    gateway.send_code("13800138000", "123456", valid_minutes=5)
    request = session.requests[0]
    assert request["url"] == "https://sms.example.test/send"
    assert request["json"] == {"phone": "13800138000", "sign_name": "惠民保", "template": "T1",
                               "params": {"code": "123456", "minutes": 5}}
    assert request["headers"]["Authorization"] == "Bearer tok"
    assert request["timeout"] == 3


@pytest.mark.parametrize("answer", [requests.ReadTimeout("slow"), (500, "oops"), (429, "slow down")])
def test_a_provider_failure_is_unavailable_on_both_adapters(answer):
    gateway, _ = _gateway(answer)
    with pytest.raises(SmsUnavailable):
        gateway.send_code("13800138000", "123456")
    sim = SimulatedSms(SandboxClock())
    sim.fail_next()
    with pytest.raises(SmsUnavailable):
        sim.send_code("13800138000", "123456")
    assert sim.last("13800138000") is None


def test_the_gateway_is_configured_from_the_environment(monkeypatch):
    monkeypatch.setenv("HMB_SMS_URL", "https://sms.example.test/v1")
    monkeypatch.setenv("HMB_SMS_TOKEN", "t")
    monkeypatch.setenv("HMB_SMS_TEMPLATE", "LOGIN_2021")
    from chalicelib.config import get_settings, reset_settings

    reset_settings()
    gateway = HttpSmsGateway.from_env(get_settings())
    assert (gateway.url, gateway.template) == ("https://sms.example.test/v1", "LOGIN_2021")
    monkeypatch.delenv("HMB_SMS_TOKEN")
    reset_settings()
    with pytest.raises(RuntimeError):
        HttpSmsGateway.from_env(get_settings())
    reset_settings()


# ---- notifications -------------------------------------------------------------------------------------------
def test_the_recording_notifier_keeps_what_each_recipient_was_sent():
    clock = SandboxClock(datetime(2021, 4, 15, 10, 0, tzinfo=CHINA_TZ))
    notifier = RecordingNotifier(clock)
    notifier.notify("acc-1", "claim_decided", {"claim_id": "C1"})
    notifier.notify("acc-2", "policy_issued", {"policy_id": "P1"})
    [sent] = notifier.sent("acc-1")
    assert (sent.template, sent.data, sent.sent_at) == ("claim_decided", {"claim_id": "C1"}, clock.now())


def _subscribe_notifier(*answers, openid="o-member"):
    session = FakeSession(*answers)
    notifier = WeChatSubscribeNotifier("wx123", "s3cret", {"claim_decided": "TPL-1"}, session=session,
                                       openid_of=lambda recipient: openid)
    return notifier, session


def test_a_subscribe_message_goes_to_the_members_openid_with_the_configured_template():
    notifier, session = _subscribe_notifier((200, {"access_token": "AT", "expires_in": 7200}),
                                            (200, {"errcode": 0}))
    notifier.notify("acc-1", "claim_decided", {"thing1": "理赔已通过", "amount2": "1234.50元"})
    token_request, send_request = session.requests
    assert json.loads(token_request["data"])["grant_type"] == "client_credential"
    assert send_request["params"] == {"access_token": "AT"}
    message = json.loads(send_request["data"])
    assert message["touser"] == "o-member" and message["template_id"] == "TPL-1"
    assert message["data"] == {"thing1": {"value": "理赔已通过"}, "amount2": {"value": "1234.50元"}}


def test_the_access_token_is_reused_and_refreshed_once_when_wechat_says_it_expired():
    notifier, session = _subscribe_notifier((200, {"access_token": "AT1", "expires_in": 7200}),
                                            (200, {"errcode": 0}),
                                            (200, {"errcode": 42001}),
                                            (200, {"access_token": "AT2", "expires_in": 7200}),
                                            (200, {"errcode": 0}))
    notifier.notify("acc-1", "claim_decided", {"thing1": "a"})
    notifier.notify("acc-1", "claim_decided", {"thing1": "b"})
    tokens_used = [r["params"]["access_token"] for r in session.requests if "access_token" in r.get("params", {})]
    assert tokens_used == ["AT1", "AT1", "AT2"]


def test_a_notification_failure_never_raises():
    notifier, session = _subscribe_notifier(requests.ConnectionError("down"))
    notifier.notify("acc-1", "claim_decided", {"thing1": "a"})
    assert len(session.requests) == 1


def test_nothing_is_sent_without_a_template_or_an_openid():
    notifier, session = _subscribe_notifier(openid=None)
    notifier.notify("acc-1", "claim_decided", {"thing1": "a"})
    notifier.notify("acc-1", "unknown_template", {"thing1": "a"})
    assert session.requests == []
