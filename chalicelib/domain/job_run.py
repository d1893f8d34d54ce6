"""A fan-out job run's record (services/fanout.py): what was enqueued, how many messages were handled and what they
counted. Keys, conditions and the per-message marker are the repository's (adapters/repositories/job_runs.py)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RUNNING, STOPPED, FINISHED = "running", "stopped", "finished"


@dataclass(frozen=True)
class JobRun:
    run_id: str
    job: str
    status: str  # running | stopped | finished
    started_at: str
    finished_at: str | None = None
    enqueued_at: str | None = None
    items: int = 0
    messages: int = 0
    messages_done: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.enqueued_at is not None and self.messages_done >= self.messages

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "job": self.job, "status": self.status, "started_at": self.started_at,
                "finished_at": self.finished_at, "items": self.items, "messages": self.messages,
                "messages_done": self.messages_done, "counts": dict(self.counts)}
