"""WeChat Pay (APIv3) port: JSAPI prepay, the mini-program's payment parameters, refunds, and the verification of
payment notifications.

One class, `WeChatPay`, holds a `wechatpayv3.WeChatPay` client in 微信支付公钥 mode (platform public key + its id, so
no certificate download) and a *gateway* for the calls that cross the network:

- `WeChatPay.from_env(settings)` (deployed stages): the gateway is the library itself (`pay`, `refund`) talking to
  api.mch.weixin.qq.com with the merchant key from the environment.
- `simulated_wechat_pay(settings, clock)` (local stage): the gateway is `WeChatPaySimulator`, which issues prepay ids,
  records refunds and builds notifications signed (RSA-SHA256 over ``timestamp\\nnonce\\nbody\\n``) and encrypted
  (AEAD_AES_256_GCM with the APIv3 key) exactly as WeChat does, with a key pair and APIv3 key generated once per
  process (nothing committed).

`verify_notification` is the same code in both: the serial must be the configured platform key id, the timestamp
within 5 minutes of our clock (wechatpayv3's `callback()` does not check it), then wechatpayv3's own primitives
`rsa_verify` (signature over ``timestamp\nnonce\nbody\n``) and `aes_decrypt` (the resource) do the cryptography.
(`callback()` itself is not used: it folds "bad signature" and "cannot decrypt" into one `None`, and on an unknown
serial it would go and download certificates.)
"""
from __future__ import annotations

import base64
import json
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

NOTIFY_PATH = "/v1/payments/wechat/notify"
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
MAX_CLOCK_SKEW_SECONDS = 300  # WeChat's guidance: refuse notifications whose timestamp is 5+ minutes off


class WeChatPayUnavailable(Exception):
    """Transport failure, timeout or a 5xx: the outcome is unknown; retry with the same out_trade_no/out_refund_no."""


class WeChatPayRefused(Exception):
    """WeChat answered 4xx with a code (e.g. NOT_ENOUGH, PARAM_ERROR): nothing happened."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(code)


class NotificationRejected(Exception):
    """A notification that must not be trusted: `reason` is one of signature, serial, stale, malformed, decrypt."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class PaymentNotification:
    """The decrypted `resource` of a TRANSACTION.* notification (the fields we act on)."""

    event_id: str
    event_type: str
    appid: str
    mchid: str
    out_trade_no: str
    transaction_id: str
    trade_state: str
    total_fen: int
    currency: str
    success_time: str | None
    payer_openid: str | None


class WeChatPay:
    def __init__(self, client, gateway, appid: str, mchid: str, apiv3_key: str, public_key_pem: str,
                 public_key_id: str, clock) -> None:
        from wechatpayv3.utils import load_public_key

        self._client = client  # wechatpayv3.WeChatPay: signs the JSAPI parameters with the merchant key
        self._gateway = gateway
        self.appid = appid
        self.mchid = mchid
        self._apiv3_key = apiv3_key
        self._platform_public_key = load_public_key(public_key_pem)
        self._public_key_id = public_key_id
        self._clock = clock

    # ---- construction ---------------------------------------------------------------------------------------
    @classmethod
    def from_env(cls, settings) -> WeChatPay:
        """Merchant credentials from settings (the stack provisions them in the wechatpay secret):
        HMB_WECHATPAY_PRIVATE_KEY (PEM), HMB_WECHATPAY_CERT_SERIAL, HMB_WECHATPAY_APIV3_KEY,
        HMB_WECHATPAY_PUBLIC_KEY (PEM of the 微信支付公钥) and HMB_WECHATPAY_PUBLIC_KEY_ID."""
        from chalicelib.adapters.clock import SystemClock

        names = ("PRIVATE_KEY", "CERT_SERIAL", "APIV3_KEY", "PUBLIC_KEY", "PUBLIC_KEY_ID")
        env = dict(zip(names, settings.require(*(f"HMB_WECHATPAY_{n}" for n in names)), strict=True))
        client = _library_client(settings, env["PRIVATE_KEY"], env["CERT_SERIAL"], env["APIV3_KEY"],
                                 env["PUBLIC_KEY"], env["PUBLIC_KEY_ID"])
        return cls(client, _LibraryGateway(client), settings.wechat_appid, settings.wechat_mchid, env["APIV3_KEY"],
                   env["PUBLIC_KEY"], env["PUBLIC_KEY_ID"], SystemClock())

    # ---- paying -------------------------------------------------------------------------------------------
    def prepay_jsapi(self, out_trade_no: str, description: str, amount_fen: int, openid: str | None,
                     time_expire: datetime | None = None) -> str:
        """A JSAPI prepay id for this order (WeChat answers the same for the same out_trade_no and parameters)."""
        return self._gateway.prepay(out_trade_no=out_trade_no, description=description, amount_fen=amount_fen,
                                    openid=openid, time_expire=time_expire)

    def jsapi_parameters(self, prepay_id: str) -> dict[str, str]:
        """What the mini-program passes to wx.requestPayment, signed with the merchant key (signType RSA)."""
        timestamp = str(int(self._clock.now().timestamp()))
        nonce = uuid.uuid4().hex
        package = f"prepay_id={prepay_id}"
        pay_sign = self._client.sign([self.appid, timestamp, nonce, package])
        return {"appId": self.appid, "timeStamp": timestamp, "nonceStr": nonce, "package": package,
                "signType": "RSA", "paySign": pay_sign}

    def close_order(self, out_trade_no: str) -> None:
        """Close an unpaid order (关闭订单) so it can no longer be paid; idempotent. Raises WeChatPayRefused
        ("ORDERPAID") if the member paid it meanwhile — the notification is then on its way."""
        self._gateway.close(out_trade_no=out_trade_no)

    def refund(self, out_trade_no: str, out_refund_no: str, refund_fen: int, total_fen: int, reason: str) -> str:
        """Ask for a refund (idempotent by out_refund_no); returns WeChat's refund id."""
        return self._gateway.refund(out_trade_no=out_trade_no, out_refund_no=out_refund_no, refund_fen=refund_fen,
                                    total_fen=total_fen, reason=reason)

    # ---- notifications --------------------------------------------------------------------------------------
    def verify_notification(self, headers: dict[str, str], body: bytes | str) -> PaymentNotification:
        """Verify and decrypt a payment notification; raises NotificationRejected."""
        h = {k.lower(): v for k, v in headers.items()}
        if h.get("wechatpay-serial", "") != self._public_key_id:
            raise NotificationRejected("serial")
        if h.get("wechatpay-signature-type", SIGNATURE_TYPE) != SIGNATURE_TYPE:
            raise NotificationRejected("signature")
        try:
            sent_at = int(h.get("wechatpay-timestamp", ""))
        except ValueError:
            raise NotificationRejected("malformed") from None
        if abs(int(self._clock.now().timestamp()) - sent_at) > MAX_CLOCK_SKEW_SECONDS:
            raise NotificationRejected("stale")
        try:
            text = body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else body
        except UnicodeDecodeError:
            raise NotificationRejected("malformed") from None
        from wechatpayv3.utils import aes_decrypt, rsa_verify

        if not rsa_verify(h["wechatpay-timestamp"], h.get("wechatpay-nonce", ""), text,
                          h.get("wechatpay-signature", ""), self._platform_public_key):
            raise NotificationRejected("signature")
        try:
            data = json.loads(text)
            resource = data["resource"]
            if data.get("resource_type") != "encrypt-resource" or resource.get("algorithm") != "AEAD_AES_256_GCM":
                raise NotificationRejected("malformed")
            plaintext = aes_decrypt(nonce=resource["nonce"], ciphertext=resource["ciphertext"],
                                    associated_data=resource.get("associated_data") or "",
                                    apiv3_key=self._apiv3_key)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise NotificationRejected("malformed") from None
        if plaintext is None:
            raise NotificationRejected("decrypt")
        try:
            data["resource"] = json.loads(plaintext)
        except ValueError:
            raise NotificationRejected("malformed") from None
        return _notification(data)


def _notification(data: dict[str, Any]) -> PaymentNotification:
    r = data["resource"]
    try:
        amount = r.get("amount") or {}
        return PaymentNotification(
            event_id=str(data.get("id", "")), event_type=str(data.get("event_type", "")), appid=str(r["appid"]),
            mchid=str(r["mchid"]), out_trade_no=str(r["out_trade_no"]),
            transaction_id=str(r.get("transaction_id", "")), trade_state=str(r["trade_state"]),
            total_fen=int(amount["total"]), currency=str(amount.get("currency", "CNY")),
            success_time=r.get("success_time"), payer_openid=(r.get("payer") or {}).get("openid"))
    except (KeyError, TypeError, ValueError):
        raise NotificationRejected("malformed") from None


def _library_client(settings, private_key_pem: str, cert_serial: str, apiv3_key: str, public_key_pem: str,
                    public_key_id: str):
    from wechatpayv3 import WeChatPay as LibraryClient
    from wechatpayv3 import WeChatPayType

    return LibraryClient(wechatpay_type=WeChatPayType.MINIPROG, mchid=settings.wechat_mchid,
                         private_key=private_key_pem, cert_serial_no=cert_serial, appid=settings.wechat_appid,
                         apiv3_key=apiv3_key, notify_url=settings.public_base_url.rstrip("/") + NOTIFY_PATH,
                         public_key=public_key_pem, public_key_id=public_key_id, timeout=(3, 8))


class _LibraryGateway:
    """The real network calls, through wechatpayv3."""

    def __init__(self, client) -> None:
        self._client = client

    def prepay(self, out_trade_no: str, description: str, amount_fen: int, openid: str | None,
               time_expire: datetime | None) -> str:
        if not openid:
            raise WeChatPayRefused("OPENID_REQUIRED")
        kwargs: dict[str, Any] = {"description": description, "out_trade_no": out_trade_no,
                                  "amount": {"total": amount_fen, "currency": "CNY"}, "payer": {"openid": openid}}
        if time_expire is not None:
            kwargs["time_expire"] = time_expire.isoformat(timespec="seconds")
        _, message = self._call(self._client.pay, **kwargs)
        return json.loads(message)["prepay_id"]

    def close(self, out_trade_no: str) -> None:
        try:
            self._call(self._client.close, out_trade_no=out_trade_no)  # 204 No Content
        except WeChatPayRefused as exc:
            if exc.code != "ORDER_NOT_EXIST":  # never created (the prepay did not reach WeChat): nothing to close
                raise

    def refund(self, out_trade_no: str, out_refund_no: str, refund_fen: int, total_fen: int, reason: str) -> str:
        _, message = self._call(self._client.refund, out_refund_no=out_refund_no, out_trade_no=out_trade_no,
                                   amount={"refund": refund_fen, "total": total_fen, "currency": "CNY"},
                                   reason=reason)
        return json.loads(message)["refund_id"]

    @staticmethod
    def _call(fn, **kwargs):
        import requests

        try:
            code, message = fn(**kwargs)
        except requests.RequestException as exc:
            raise WeChatPayUnavailable(type(exc).__name__) from None
        if code >= 500 or code == 429:
            raise WeChatPayUnavailable(str(code))
        if code >= 400:
            try:
                raise WeChatPayRefused(json.loads(message).get("code", str(code)))
            except (ValueError, AttributeError):
                raise WeChatPayRefused(str(code)) from None
        return code, message


# ---- the local simulator ------------------------------------------------------------------------------------------
@dataclass
class _Keys:
    merchant_private_pem: str
    platform_private_key: Any
    platform_public_pem: str
    public_key_id: str
    apiv3_key: str


_keys_lock = threading.Lock()
_process_keys: _Keys | None = None


def _sandbox_keys() -> _Keys:
    """Generated once per process: a merchant key pair, a platform key pair and an APIv3 key."""
    global _process_keys
    with _keys_lock:
        if _process_keys is None:
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import rsa

            def pem_private(key) -> str:
                return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()).decode()

            merchant = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            platform = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            public_pem = platform.public_key().public_bytes(serialization.Encoding.PEM,
                                                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()
            _process_keys = _Keys(merchant_private_pem=pem_private(merchant), platform_private_key=platform,
                                  platform_public_pem=public_pem,
                                  public_key_id="PUB_KEY_ID_SANDBOX_" + secrets.token_hex(8).upper(),
                                  apiv3_key=secrets.token_hex(16))
        return _process_keys


@dataclass
class SimulatedTrade:
    out_trade_no: str
    prepay_id: str
    amount_fen: int
    description: str
    openid: str | None
    transaction_id: str | None = None
    refunds: dict[str, int] = field(default_factory=dict)  # out_refund_no → fen
    time_expire: datetime | None = None
    closed: bool = False


class WeChatPaySimulator:
    """WeChat's side in the local stage: trades by out_trade_no, refunds by out_refund_no, signed notifications.

    `fail_next("prepay" | "refund" | "close", "before" | "after")` makes the next such call raise
    WeChatPayUnavailable before it takes effect or after (the effect stays). A trade closed, or past its
    `time_expire`, can no longer be paid; a paid trade cannot be closed (ORDERPAID), as at WeChat.
    """

    def __init__(self, keys: _Keys, appid: str, mchid: str, clock) -> None:
        self._keys = keys
        self.appid = appid
        self.mchid = mchid
        self._clock = clock
        self._lock = threading.RLock()
        self.trades: dict[str, SimulatedTrade] = {}
        self.faults: list[tuple[str, str]] = []

    def fail_next(self, operation: str, when: str = "after") -> None:
        if operation not in ("prepay", "refund", "close") or when not in ("before", "after"):
            raise ValueError(f"unknown fault {operation!r} {when!r}")
        with self._lock:
            self.faults.append((operation, when))

    def _fault(self, operation: str, when: str) -> None:
        with self._lock:
            if (operation, when) in self.faults:
                self.faults.remove((operation, when))
                raise WeChatPayUnavailable(f"simulated timeout {when} {operation}")

    # ---- the gateway ----------------------------------------------------------------------------------------
    def prepay(self, out_trade_no: str, description: str, amount_fen: int, openid: str | None,
               time_expire: datetime | None) -> str:
        self._fault("prepay", "before")
        with self._lock:
            trade = self.trades.get(out_trade_no)
            if trade is None:
                trade = SimulatedTrade(out_trade_no, "wx" + uuid.uuid4().hex[:30], amount_fen, description, openid,
                                       time_expire=time_expire)
                self.trades[out_trade_no] = trade
            elif trade.amount_fen != amount_fen:
                raise WeChatPayRefused("OUT_TRADE_NO_USED")
            elif trade.closed:
                raise WeChatPayRefused("ORDER_CLOSED")
        self._fault("prepay", "after")
        return trade.prepay_id

    def close(self, out_trade_no: str) -> None:
        self._fault("close", "before")
        with self._lock:
            trade = self.trades.get(out_trade_no)
            if trade is not None:
                if trade.transaction_id is not None:
                    raise WeChatPayRefused("ORDERPAID")
                trade.closed = True
        self._fault("close", "after")

    def refund(self, out_trade_no: str, out_refund_no: str, refund_fen: int, total_fen: int, reason: str) -> str:
        self._fault("refund", "before")
        with self._lock:
            trade = self.trades.get(out_trade_no)
            if trade is None or trade.transaction_id is None:
                raise WeChatPayRefused("RESOURCE_NOT_EXISTS")
            if out_refund_no not in trade.refunds:
                if total_fen != trade.amount_fen or sum(trade.refunds.values()) + refund_fen > trade.amount_fen:
                    raise WeChatPayRefused("INVALID_REQUEST")
                trade.refunds[out_refund_no] = refund_fen
        self._fault("refund", "after")
        return "50" + uuid.uuid5(uuid.NAMESPACE_OID, out_refund_no).hex[:30]

    # ---- what the sandbox drives --------------------------------------------------------------------------
    def refunded_fen(self, out_trade_no: str) -> int:
        with self._lock:
            trade = self.trades.get(out_trade_no)
            return sum(trade.refunds.values()) if trade else 0

    def pay(self, out_trade_no: str, success: bool = True) -> tuple[dict[str, str], bytes]:
        """The member paid (or failed to): the notification WeChat would POST, as (headers, body)."""
        with self._lock:
            trade = self.trades.get(out_trade_no)
            if trade is None:
                raise KeyError(out_trade_no)
            if success and trade.transaction_id is None and not self.payable(trade):
                raise WeChatPayRefused("ORDER_CLOSED")
            if success and trade.transaction_id is None:
                trade.transaction_id = "42" + uuid.uuid4().hex[:26]
            return self.notification(trade, success=success)

    def payable(self, trade: SimulatedTrade) -> bool:
        """Not closed and not past its time_expire (WeChat refuses to take money for it then)."""
        return not trade.closed and (trade.time_expire is None or self._clock.now() < trade.time_expire)

    def notification(self, trade: SimulatedTrade, success: bool = True, *, total_fen: int | None = None,
                     appid: str | None = None, mchid: str | None = None, transaction_id: str | None = None,
                     sent_at: datetime | None = None) -> tuple[dict[str, str], bytes]:
        """A notification for `trade`; keyword overrides let tests forge the wrong amount, merchant or time."""
        now = sent_at or self._clock.now()
        resource = {
            "mchid": mchid or self.mchid, "appid": appid or self.appid, "out_trade_no": trade.out_trade_no,
            "transaction_id": transaction_id or trade.transaction_id or "", "trade_type": "JSAPI",
            "trade_state": "SUCCESS" if success else "PAYERROR",
            "trade_state_desc": "支付成功" if success else "支付失败", "bank_type": "OTHERS", "attach": "",
            "success_time": now.isoformat(timespec="seconds") if success else None,
            "payer": {"openid": trade.openid or "osim_sandbox"},
            "amount": {"total": trade.amount_fen if total_fen is None else total_fen,
                       "payer_total": trade.amount_fen if total_fen is None else total_fen,
                       "currency": "CNY", "payer_currency": "CNY"},
        }
        nonce = secrets.token_hex(6)  # 12 characters, as WeChat sends
        associated = "transaction"
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        ciphertext = AESGCM(self._keys.apiv3_key.encode()).encrypt(
            nonce.encode(), json.dumps(resource, ensure_ascii=False).encode(), associated.encode())
        envelope = {
            "id": str(uuid.uuid4()), "create_time": now.isoformat(timespec="seconds"),
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS" if success else "TRANSACTION.FAIL",
            "summary": "支付成功" if success else "支付失败",
            "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                         "ciphertext": base64.b64encode(ciphertext).decode(), "associated_data": associated,
                         "nonce": nonce},
        }
        body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
        return self.sign(body, sent_at=now), body.encode()

    def sign(self, body: str, sent_at: datetime | None = None, key=None) -> dict[str, str]:
        """Wechatpay-* headers for `body`, signed with the platform key (or `key`, to forge)."""
        from wechatpayv3.utils import rsa_sign

        timestamp = str(int((sent_at or self._clock.now()).timestamp()))
        nonce = uuid.uuid4().hex.upper()
        signature = rsa_sign(key or self._keys.platform_private_key, f"{timestamp}\n{nonce}\n{body}\n")
        return {"Wechatpay-Timestamp": timestamp, "Wechatpay-Nonce": nonce, "Wechatpay-Signature": signature,
                "Wechatpay-Serial": self._keys.public_key_id, "Wechatpay-Signature-Type": SIGNATURE_TYPE,
                "Content-Type": "application/json"}


def simulated_wechat_pay(settings, clock) -> WeChatPay:
    """The local stage's WeChat Pay: the real adapter over the simulator (`.simulator` for the sandbox routes)."""
    k = _sandbox_keys()
    client = _library_client(settings, k.merchant_private_pem, "SANDBOX" + k.public_key_id[-16:], k.apiv3_key,
                             k.platform_public_pem, k.public_key_id)
    simulator = WeChatPaySimulator(k, settings.wechat_appid, settings.wechat_mchid, clock)
    adapter = WeChatPay(client, simulator, settings.wechat_appid, settings.wechat_mchid, k.apiv3_key,
                        k.platform_public_pem, k.public_key_id, clock)
    adapter.simulator = simulator  # type: ignore[attr-defined]
    return adapter
