"""The fan-out job runs repository's contract, run against the DynamoDB repository (moto table) and its in-memory
twin."""
from __future__ import annotations

import pytest

from chalicelib.adapters.repositories.job_runs import InMemoryJobRunRepository, JobRunRepository, RunExists
from chalicelib.domain.job_run import JobRun

AT = "2021-04-15T10:00:00+08:00"
LATER = "2021-04-15T11:00:00+08:00"


def a_run(run_id: str = "R1", job: str = "renewal_deductions", started_at: str = AT) -> JobRun:
    return JobRun(run_id=run_id, job=job, status="running", started_at=started_at, params={"plan_id": "lishui-2022"})


def done(runs, key: str, counts: dict[str, int], retried: int = 0) -> bool:
    return runs.message_done("R1", key, at=AT, items=2, failed=0, counts=counts, retried=retried,
                             expires_at=1_700_000_000)


class JobRunRepositoryContract:
    def test_a_run_reads_back_and_is_created_once(self, runs):
        runs.create(a_run())
        assert runs.get("R1") == a_run()
        with pytest.raises(RunExists):
            runs.create(a_run())
        assert runs.get("R-NOPE") is None

    def test_a_jobs_runs_are_listed_newest_first(self, runs):
        runs.create(a_run("R1", started_at=AT))
        runs.create(a_run("R2", started_at=LATER))
        runs.create(a_run("R3", job="renewal_notices"))
        assert [r.run_id for r in runs.runs_of("renewal_deductions")] == ["R2", "R1"]
        assert [r.run_id for r in runs.runs_of("renewal_deductions", limit=1)] == ["R2"]

    def test_each_message_is_counted_once_and_the_run_completes(self, runs):
        runs.create(a_run())
        assert runs.message_state("R1", "0") == (a_run(), False)
        enqueued = runs.enqueued("R1", 2, 4, AT)
        assert (enqueued.messages, enqueued.items, enqueued.complete) == (2, 4, False)
        assert done(runs, "0", {"renewed": 2})
        assert not done(runs, "0", {"renewed": 2})  # SQS delivered it again
        assert done(runs, "1", {"renewed": 1, "failed": 1})
        run, handled = runs.message_state("R1", "0")
        assert handled and run.counts == {"renewed": 3, "failed": 1} and run.complete

    def test_a_retried_message_is_waited_for(self, runs):
        runs.create(a_run())
        runs.enqueued("R1", 1, 2, AT)
        done(runs, "0", {"renewed": 1}, retried=1)
        assert not runs.get("R1").complete
        done(runs, "0~2", {"renewed": 1})
        assert runs.get("R1").complete and runs.get("R1").messages == 2

    def test_a_stopped_run_neither_finishes_nor_restarts(self, runs):
        runs.create(a_run())
        runs.stop("R1", AT)
        runs.finish("R1", LATER)
        assert (runs.get("R1").status, runs.get("R1").finished_at) == ("stopped", None)
        runs.create(a_run("R2"))
        runs.finish("R2", LATER)
        runs.stop("R2", LATER)
        assert (runs.get("R2").status, runs.get("R2").finished_at) == ("finished", LATER)


class TestDynamoJobRunRepository(JobRunRepositoryContract):
    @pytest.fixture()
    def runs(self, aws):
        from chalicelib import deps

        return JobRunRepository(deps.table())


class TestInMemoryJobRunRepository(JobRunRepositoryContract):
    @pytest.fixture()
    def runs(self):
        return InMemoryJobRunRepository()
