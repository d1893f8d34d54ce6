"""Fan-out job runs ⇄ items (docs/access-patterns.md, Job run): the only code that knows their keys and the
conditions that count each message once.

    JOBRUN#{run_id} / RUN            the run record        GSI3 JOBRUN#{job} / {started_at}#{run_id} (newest first)
    JOBRUN#{run_id} / MSG#{key}      one per handled message (expires with TTL): its counts are added once
"""
from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from typing import Any, Protocol

from chalicelib.adapters import keys, schema
from chalicelib.adapters.dynamodb import ConditionFailed, Table, TxOp
from chalicelib.domain.job_run import FINISHED, RUNNING, STOPPED, JobRun


class RunExists(Exception):
    """create: a run with this id is already recorded."""


class JobRunStore(Protocol):
    def create(self, run: JobRun) -> None: ...

    def get(self, run_id: str) -> JobRun | None: ...

    def runs_of(self, job: str, limit: int = 20) -> list[JobRun]: ...

    def stop(self, run_id: str, at: str) -> None: ...

    def finish(self, run_id: str, at: str) -> None: ...

    def enqueued(self, run_id: str, messages: int, items: int, at: str) -> JobRun: ...

    def message_state(self, run_id: str, key: str) -> tuple[JobRun | None, bool]: ...

    def message_done(self, run_id: str, key: str, *, at: str, items: int, failed: int, counts: Mapping[str, int],
                     retried: int, expires_at: int) -> bool: ...


def run_of(item: Mapping[str, Any]) -> JobRun:
    return JobRun(run_id=item["run_id"], job=item["job"], status=item["status"], started_at=item["started_at"],
                  finished_at=item.get("finished_at"), enqueued_at=item.get("enqueued_at"),
                  items=int(item.get("items", 0)), messages=int(item.get("messages", 0)),
                  messages_done=int(item.get("messages_done", 0)),
                  counts={k: int(v) for k, v in (item.get("counts") or {}).items()},
                  params=dict(item.get("params") or {}))


class JobRunRepository:
    """Over the DynamoDB table."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def create(self, run: JobRun) -> None:
        item = {**keys.job_run(run.run_id), **keys.gsi_job_runs(run.job, f"{run.started_at}#{run.run_id}"),
                "run_id": run.run_id, "job": run.job, "status": run.status, "started_at": run.started_at,
                "items": run.items, "messages": run.messages, "messages_done": run.messages_done,
                "counts": dict(run.counts), **({"params": dict(run.params)} if run.params else {})}
        try:
            self.table.put(item, condition="attribute_not_exists(PK)")
        except ConditionFailed:
            raise RunExists(run.run_id) from None

    def get(self, run_id: str) -> JobRun | None:
        item = self.table.get(keys.job_run(run_id))
        return run_of(item) if item else None

    def runs_of(self, job: str, limit: int = 20) -> list[JobRun]:
        """A job's runs, newest first."""
        pk_name, _ = schema.GSIS[schema.GSI_BY_STATUS]
        items, _ = self.table.query(pk_name, keys.gsi_job_runs(job, "")[pk_name], index=schema.GSI_BY_STATUS,
                                    forward=False, limit=limit)
        return [run_of(i) for i in items]

    def _move(self, run_id: str, to_status: str, at_field: str, at: str, extra_condition: str = "") -> None:
        try:
            self.table.update(keys.job_run(run_id), f"SET #s = :to, {at_field} = :now",
                              condition="#s = :running" + extra_condition, names={"#s": "status"},
                              values={":to": to_status, ":running": RUNNING, ":now": at})
        except ConditionFailed:
            pass  # not running any more (or finished already)

    def stop(self, run_id: str, at: str) -> None:
        """A running run stops; any other is left as it is."""
        self._move(run_id, STOPPED, "stopped_at", at)

    def finish(self, run_id: str, at: str) -> None:
        """A running run finishes, once."""
        self._move(run_id, FINISHED, "finished_at", at, " AND attribute_not_exists(finished_at)")

    def enqueued(self, run_id: str, messages: int, items: int, at: str) -> JobRun:
        """Everything is on the queue: `messages` more to wait for (retries may already have added some)."""
        return run_of(self.table.update(keys.job_run(run_id), "ADD messages :m SET #items = :n, enqueued_at = :now",
                                        names={"#items": "items"}, values={":m": messages, ":n": items, ":now": at}))

    def message_state(self, run_id: str, key: str) -> tuple[JobRun | None, bool]:
        """One BatchGetItem: the run (None if unknown) and whether the message `key` was handled already."""
        run_key, marker_key = keys.job_run(run_id), keys.job_run_message(run_id, key)
        found = {(i["PK"], i["SK"]): i for i in self.table.batch_get([run_key, marker_key])}
        run_item = found.get((run_key["PK"], run_key["SK"]))
        return (run_of(run_item) if run_item else None), (marker_key["PK"], marker_key["SK"]) in found

    def message_done(self, run_id: str, key: str, *, at: str, items: int, failed: int, counts: Mapping[str, int],
                     retried: int, expires_at: int) -> bool:
        """The message's marker and its counts added to the run, in one transaction: False if another delivery of
        the message counted it first."""
        names = {f"#c{i}": name for i, name in enumerate(counts)}
        values: dict[str, Any] = {":one": 1, ":retried": retried}
        values.update({f":c{i}": n for i, n in enumerate(counts.values())})
        adds = ", ".join(["messages_done :one", "messages :retried"]
                         + [f"counts.#c{i} :c{i}" for i in range(len(counts))])
        try:
            self.table.transact([
                TxOp.put({**keys.job_run_message(run_id, key), "done_at": at, "items": items, "failed": failed,
                          schema.TTL_ATTRIBUTE: expires_at}),
                TxOp.update_item(keys.job_run(run_id), f"ADD {adds}", names=names, values=values),
            ])
        except ConditionFailed:
            return False
        return True


class InMemoryJobRunRepository:
    """The twin (tests/contract/test_job_run_repository.py)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, JobRun] = {}
        self._done: set[tuple[str, str]] = set()

    def create(self, run: JobRun) -> None:
        with self._lock:
            if run.run_id in self._runs:
                raise RunExists(run.run_id)
            self._runs[run.run_id] = run

    def get(self, run_id: str) -> JobRun | None:
        return self._runs.get(run_id)

    def runs_of(self, job: str, limit: int = 20) -> list[JobRun]:
        runs = sorted((r for r in self._runs.values() if r.job == job), key=lambda r: (r.started_at, r.run_id),
                      reverse=True)
        return runs[:limit]

    def _move(self, run_id: str, **changes: Any) -> None:
        with self._lock:
            run = self._runs.get(run_id)
            if run is not None and run.status == RUNNING and not (changes.get("finished_at") and run.finished_at):
                self._runs[run_id] = dataclasses.replace(run, **changes)

    def stop(self, run_id: str, at: str) -> None:
        self._move(run_id, status=STOPPED)

    def finish(self, run_id: str, at: str) -> None:
        self._move(run_id, status=FINISHED, finished_at=at)

    def enqueued(self, run_id: str, messages: int, items: int, at: str) -> JobRun:
        with self._lock:
            run = self._runs[run_id]
            self._runs[run_id] = dataclasses.replace(run, messages=run.messages + messages, items=items,
                                                     enqueued_at=at)
            return self._runs[run_id]

    def message_state(self, run_id: str, key: str) -> tuple[JobRun | None, bool]:
        return self._runs.get(run_id), (run_id, key) in self._done

    def message_done(self, run_id: str, key: str, *, at: str, items: int, failed: int, counts: Mapping[str, int],
                     retried: int, expires_at: int) -> bool:
        with self._lock:
            if (run_id, key) in self._done:
                return False
            self._done.add((run_id, key))
            run = self._runs[run_id]
            merged = dict(run.counts)
            for name, n in counts.items():
                merged[name] = merged.get(name, 0) + n
            self._runs[run_id] = dataclasses.replace(run, messages_done=run.messages_done + 1,
                                                     messages=run.messages + retried, counts=merged)
            return True
