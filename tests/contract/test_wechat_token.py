"""One WeChat access token for every container: fetched in stable mode, shared through the table, replaced only
by a conditional write, force-refreshed by one container when WeChat refuses it. A fake WeChat answers; no network."""
from __future__ import annotations

import json

import pytest

from chalicelib.adapters.wechat_token import SharedAccessToken, TableTokenStore


class FakeWeChat:
    """The stable_token endpoint: the same token while it is valid, a new one only when forced."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.serial = 1

    def post(self, url, data=None, **kwargs):
        body = json.loads(data)
        self.requests.append({"url": url, **body})
        if body["force_refresh"]:
            self.serial += 1
        return type("Resp", (), {"status_code": 200,
                                 "text": json.dumps({"access_token": f"AT{self.serial}", "expires_in": 7200})})()


class Clock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture()
def world(aws):
    from chalicelib import deps

    wechat, clock = FakeWeChat(), Clock()

    def container() -> SharedAccessToken:
        return SharedAccessToken("wx123", "s3cret", store=TableTokenStore(deps.table()), session=wechat, now=clock)

    return wechat, clock, container


def test_many_containers_share_one_fetched_token(world):
    wechat, _, container = world
    containers = [container() for _ in range(5)]

    tokens = {c.get() for c in containers for _ in range(3)}

    assert tokens == {"AT1"}
    assert len(wechat.requests) == 1
    assert wechat.requests[0]["url"].endswith("/cgi-bin/stable_token") and wechat.requests[0]["force_refresh"] is False


def test_a_token_near_its_expiry_is_renewed_once_for_everyone(world):
    wechat, clock, container = world
    first, second = container(), container()
    first.get(), second.get()

    clock.t += 7200 - 299  # inside the five minutes before expiry

    assert (first.get(), second.get()) == ("AT1", "AT1")  # stable mode: WeChat answers the same valid token
    assert len(wechat.requests) == 2  # one renewal, stored for the other container


def test_a_refused_token_is_force_refreshed_by_one_container_and_the_other_uses_its_result(world):
    wechat, _, container = world
    first, second = container(), container()
    old = first.get()
    second.get()

    renewed = first.refused(old)
    seen_by_second = second.refused(old)

    assert renewed == seen_by_second == "AT2"
    assert [r["force_refresh"] for r in wechat.requests] == [False, True]


def test_while_one_container_renews_a_refused_token_another_gives_up_once_rather_than_force_again(world):
    from chalicelib import deps

    wechat, clock, container = world
    first, second = container(), container()
    old = first.get()
    assert TableTokenStore(deps.table()).lease("wx123", old, clock())  # first is renewing right now

    assert second.refused(old) is None
    assert [r["force_refresh"] for r in wechat.requests] == [False]


def test_a_container_does_not_overwrite_a_fresher_token_another_stored(world):
    from chalicelib import deps

    _, clock, _ = world
    store = TableTokenStore(deps.table())
    assert store.replace("wx123", "AT-new", clock() + 7200, now=clock(), refused=None)

    assert not store.replace("wx123", "AT-other", clock() + 7200, now=clock(), refused=None)
    assert store.read("wx123")["access_token"] == "AT-new"
