"""Every PK/SK/GSI key string is built here and nowhere else (see docs/access-patterns.md)."""
from __future__ import annotations


def account(account_id: str) -> dict[str, str]:
    return {"PK": f"ACCOUNT#{account_id}", "SK": "ACCOUNT"}


def login_marker(channel: str, subject: str) -> dict[str, str]:
    """Uniqueness marker: one account per WeChat openid / per phone number."""
    return {"PK": f"LOGIN#{channel}#{subject}", "SK": "LOGIN"}


def sms_code(phone: str) -> dict[str, str]:
    return {"PK": f"SMS#{phone}", "SK": "CODE"}


def person(id_hash: str) -> dict[str, str]:
    """A real person known by the keyed hash of their resident ID (no ID in any key)."""
    return {"PK": f"PERSON#{id_hash}", "SK": "PERSON"}


def identity_binding(id_hash: str) -> dict[str, str]:
    """Uniqueness marker: an ID number is bound to at most one account."""
    return {"PK": f"PERSON#{id_hash}", "SK": "BOUND"}


def family_member(account_id: str, member_id: str) -> dict[str, str]:
    return {"PK": f"ACCOUNT#{account_id}", "SK": f"MEMBER#{member_id}"}


def daily_quota(account_id: str, purpose: str, day: str) -> dict[str, str]:
    """A per-account, per-day counter (expires with TTL) for abuse guards."""
    return {"PK": f"ACCOUNT#{account_id}", "SK": f"QUOTA#{purpose}#{day}"}


def family_member_prefix(account_id: str) -> tuple[str, str]:
    return f"ACCOUNT#{account_id}", "MEMBER#"


def order(order_id: str) -> dict[str, str]:
    return {"PK": f"ORDER#{order_id}", "SK": "ORDER"}


def policy(policy_id: str) -> dict[str, str]:
    return {"PK": f"POLICY#{policy_id}", "SK": "POLICY"}


def cover_marker(plan_id: str, id_hash: str) -> dict[str, str]:
    """Uniqueness marker: one policy per insured person per plan, whoever bought it."""
    return {"PK": f"COVER#{plan_id}#{id_hash}", "SK": "COVER"}


def refund(refund_id: str) -> dict[str, str]:
    """A refund owed to a member (cancellation before benefits start), until the payment channel confirms it."""
    return {"PK": f"REFUND#{refund_id}", "SK": "REFUND"}


def wechat_transaction(transaction_id: str) -> dict[str, str]:
    """Uniqueness marker: a WeChat Pay transaction is applied to an order once (duplicate notifications)."""
    return {"PK": f"WECHAT_TXN#{transaction_id}", "SK": "WECHAT_TXN"}


def claim(claim_id: str) -> dict[str, str]:
    return {"PK": f"CLAIM#{claim_id}", "SK": "CLAIM"}


def paid_bill(policy_id: str, fingerprint: str) -> dict[str, str]:
    """Uniqueness marker: one settlement slip (bill) is paid once per policy, by one claim."""
    return {"PK": f"PAIDBILL#{policy_id}#{fingerprint}", "SK": "PAIDBILL"}


def claim_document(claim_id: str, document_id: str) -> dict[str, str]:
    return {"PK": f"CLAIM#{claim_id}", "SK": f"DOC#{document_id}"}


def claim_event(claim_id: str, at: str, seq: int) -> dict[str, str]:
    return {"PK": f"CLAIM#{claim_id}", "SK": f"EVENT#{at}#{seq:04d}"}


def authorization(authorization_id: str) -> dict[str, str]:
    return {"PK": f"AUTHZ#{authorization_id}", "SK": "AUTHZ"}


def idempotency(scope: str, key: str) -> dict[str, str]:
    """Idempotency record: `scope` is the caller (account id) and the operation."""
    return {"PK": f"IDEMPOTENCY#{scope}#{key}", "SK": "IDEMPOTENCY"}


def audit(entity: str, at: str, seq: str) -> dict[str, str]:
    return {"PK": f"AUDIT#{entity}", "SK": f"{at}#{seq}"}


# ---- GSI values -----------------------------------------------------------------------------------------------
def gsi_person(id_hash: str, sort: str) -> dict[str, str]:
    return {"GSI1PK": f"PERSON#{id_hash}", "GSI1SK": sort}


def gsi_account(account_id: str, sort: str) -> dict[str, str]:
    return {"GSI2PK": f"ACCOUNT#{account_id}", "GSI2SK": sort}


def gsi_status(kind: str, status: str, sort: str) -> dict[str, str]:
    return {"GSI3PK": f"{kind}#{status}", "GSI3SK": sort}


# Work queues of high-volume entities (orders, refunds) hold only items that still need work (a sparse index) and are
# spread over shards, so a launch peak of ~700 orders/s never lands on one GSI partition key (~1000 writes/s each).
WORK_QUEUE_SHARDS = 16


def work_queue(kind: str, status: str, entity_id: str, sort: str) -> dict[str, str]:
    import zlib

    shard = zlib.crc32(entity_id.encode()) % WORK_QUEUE_SHARDS
    return {"GSI3PK": f"{kind}#{status}#{shard:02d}", "GSI3SK": sort}


def work_queue_partitions(kind: str, status: str) -> list[str]:
    return [f"{kind}#{status}#{shard:02d}" for shard in range(WORK_QUEUE_SHARDS)]


def gsi_grantee(phone: str, sort: str) -> dict[str, str]:
    return {"GSI4PK": f"GRANTEE#{phone}", "GSI4SK": sort}


# The renewal index (GSI4, DOMAIN §9): a plan's consenting policies, paged by its renewal run. Sharded: a million
# mandates renewed in half an hour is ~550 policies/s, each leaving the old plan's index and joining the next plan's
# (two index writes, ~2 WRU each): ~2 200 WCU/s, twice what one partition key takes. Over 16 shards (chosen by a hash
# of the entry's sort key `{payer}#{policy_id}`) that is ~140 each. The run pages every shard, then the unsharded
# `RENEWAL#{plan}` partition of entries written before the index was sharded (docs/access-patterns.md: they leave it
# as their renewal ends). Shards may only be added with a migration: readers compute the partitions from the count.
RENEWAL_SHARDS = 16


def gsi_renewal(plan_id: str, sort: str) -> dict[str, str]:
    import zlib

    shard = zlib.crc32(sort.encode()) % RENEWAL_SHARDS
    return {"GSI4PK": f"RENEWAL#{plan_id}#{shard:02d}", "GSI4SK": sort}


def renewal_partitions(plan_id: str) -> list[str]:
    """Every GSI4 partition key of a plan's renewal index: the shards, then the unsharded one of older entries."""
    return [f"RENEWAL#{plan_id}#{shard:02d}" for shard in range(RENEWAL_SHARDS)] + [f"RENEWAL#{plan_id}"]


# Disclosure counters (DOMAIN §8): maintained inside the transactions that issue cover, cancel it and pay claims.
# The shard is part of the partition key, so the launch peak's counter writes (~700/s, 2 WRU each in a transaction)
# spread over 16 partition keys instead of crowding one; a reader queries every shard. Shards may only be added.
DISCLOSURE_SHARDS = 16


def disclosure_counter(plan_id: str, county: str, channel: str, sharding_id: str) -> dict[str, str]:
    import zlib

    shard = zlib.crc32(sharding_id.encode()) % DISCLOSURE_SHARDS
    return {"PK": f"STATS#{plan_id}#{shard:02d}", "SK": f"COUNTY#{county}#CHANNEL#{channel}"}


def disclosure_counter_partitions(plan_id: str) -> list[str]:
    return [f"STATS#{plan_id}#{shard:02d}" for shard in range(DISCLOSURE_SHARDS)]


def rate_counter(scope: str, subject: str, window_start: int) -> dict[str, str]:
    """A fixed-window attempt counter (expires with TTL). `subject` is an account id or a keyed hash, never a
    plain ID number, phone or address."""
    return {"PK": f"RATE#{scope}#{subject}", "SK": f"W#{window_start}"}


RATE_COUNTER_PREFIX = "RATE#"

# Fan-out job runs (chalicelib/services/fanout.py): one run record per run, one marker per processed message (the
# message's counts are added once, however often SQS delivers it); runs of a job listed newest first on GSI3.
def job_run(run_id: str) -> dict[str, str]:
    return {"PK": f"JOBRUN#{run_id}", "SK": "RUN"}


def job_run_message(run_id: str, message_key: str) -> dict[str, str]:
    return {"PK": f"JOBRUN#{run_id}", "SK": f"MSG#{message_key}"}


def gsi_job_runs(job: str, sort: str) -> dict[str, str]:
    return {"GSI3PK": f"JOBRUN#{job}", "GSI3SK": sort}


def wechat_access_token(appid: str) -> dict[str, str]:
    """The one WeChat access token all containers share (chalicelib/adapters/wechat_token.py)."""
    return {"PK": f"WECHAT_TOKEN#{appid}", "SK": "TOKEN"}


def official_calendar(year: int) -> dict[str, str]:
    """One year of the State Council's holiday and make-up working-day notice, as loaded by an operator."""
    return {"PK": f"CALENDAR#{year:04d}", "SK": "CALENDAR"}


# ---- bulk enrolment (DOMAIN §10) ---------------------------------------------------------------------------------
def bulk_batch(batch_id: str) -> dict[str, str]:
    """A bulk-enrolment batch: BULK#{id} holds the batch record, its row chunks, row outcomes and count shards."""
    return {"PK": f"BULK#{batch_id}", "SK": "BATCH"}


def bulk_chunk(batch_id: str, chunk: int) -> dict[str, str]:
    """Up to a message's worth of the batch's screened rows (ID numbers encrypted), kept for the issue phase."""
    return {"PK": f"BULK#{batch_id}", "SK": f"CHUNK#{chunk:05d}"}


def bulk_row(batch_id: str, row: int) -> dict[str, str]:
    """The outcome of one list row (exactly once: written with attribute_not_exists)."""
    return {"PK": f"BULK#{batch_id}", "SK": f"ROW#{row:07d}"}


def bulk_counts(batch_id: str, shard: int) -> dict[str, str]:
    """One shard of the batch's counters, each its own partition: rows spread over shards so concurrent workers
    neither collide on one item nor add the counters' writes to the batch partition's (rows') write rate."""
    return {"PK": f"BULKCOUNT#{batch_id}#{shard:02d}", "SK": "COUNTS"}


def gsi_bulk_refused(batch_id: str, row: int) -> dict[str, str]:
    """Sparse: only a batch's refused (and already-covered) rows, in row order — the report pages them."""
    return {"GSI3PK": f"BULKREFUSED#{batch_id}", "GSI3SK": f"{row:07d}"}


def renewal_reply_cursor() -> dict[str, str]:
    """How far the renewal run has read the platform's notice replies (stops given on its own channel)."""
    return {"PK": "RENEWAL#NOTICE_REPLIES", "SK": "CURSOR"}


# ---- 免申即享: the settlement feed and payee accounts (DOMAIN §11) -------------------------------------------------
def settlement_record(settlement_id: str) -> dict[str, str]:
    """Uniqueness marker: a settlement record of the 医保 platform is acted on once (a claim, a review, a skip)."""
    return {"PK": f"SETTLEMENT#{settlement_id}", "SK": "SETTLEMENT"}


def settlement_feed_cursor() -> dict[str, str]:
    """How far the settlement feed has read the platform's records (its sequence number, never a time)."""
    return {"PK": "SETTLEMENT#FEED", "SK": "CURSOR"}


def gsi_settlement_review(at: str, settlement_id: str) -> dict[str, str]:
    """Sparse: records that did not add up (or could not be placed), waiting for staff, oldest first."""
    return {"GSI3PK": "SETTLEMENT#review", "GSI3SK": f"{at}#{settlement_id}"}


def payee(account_id: str) -> dict[str, str]:
    """The member's payee account (收款账户) where automatic claims are paid."""
    return {"PK": f"ACCOUNT#{account_id}", "SK": "PAYEE"}


# ---- daily platform reconciliation (对账, DOMAIN §9.10) -----------------------------------------------------------
# The personal-account money we asked the 医保 platform to move, by the China day we asked: orders paid from the
# personal account (ordinary and renewal) and cancellation refunds carry a sparse GSI1 entry, sharded like the work
# queues so a renewal day (up to a million orders) spreads its index writes over 16 partition keys.
PAYMENT_LEDGER_SHARDS = 16


def gsi_payment_ledger(day: str, entity_id: str, sort: str) -> dict[str, str]:
    import zlib

    shard = zlib.crc32(entity_id.encode()) % PAYMENT_LEDGER_SHARDS
    return {"GSI1PK": f"PAYLEDGER#{day}#{shard:02d}", "GSI1SK": sort}


def payment_ledger_partitions(day: str) -> list[str]:
    return [f"PAYLEDGER#{day}#{shard:02d}" for shard in range(PAYMENT_LEDGER_SHARDS)]


def reconciliation_difference(day: str, kind: str, key: str) -> dict[str, str]:
    """One difference between our requests and the platform's statement of `day`, stored once (a staff task)."""
    return {"PK": f"RECON#{day}", "SK": f"DIFF#{kind}#{key}"}


def reconciliation_day(day: str) -> tuple[str, str]:
    return f"RECON#{day}", "DIFF#"
