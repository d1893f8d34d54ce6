"""`POST /sandbox/jobs/{job}`: run a registered job now, at the sandbox clock, through the same queue and worker a
deployed stage uses (moto's SQS, drained in this request); answers when the work is drained. Local stage only."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.http import endpoint
from chalicelib.api.schemas import RequestModel, ResponseModel

bp = Blueprint(__name__)


class JobRunIn(RequestModel):
    # Stop the run after this many queue messages (a run interrupted part-way, to be re-run).
    stop_after_messages: int | None = None


class JobRunOut(ResponseModel):
    job: str
    run_id: str
    status: str
    started_at: str
    finished_at: str | None = None
    items: int
    messages: int
    messages_done: int
    counts: dict[str, int]


def _known(job: str):
    from chalicelib import jobs
    from chalicelib.domain.errors import NotFound
    from chalicelib.services.fanout import UnknownJob, resolve

    try:
        return resolve(jobs.JOBS, job)
    except UnknownJob:
        raise NotFound("SANDBOX_JOB_NOT_FOUND", job=job) from None


@endpoint(bp, "/sandbox/jobs/{job}", methods=("POST",), summary="沙箱:立即运行一个批处理任务(经由任务队列)",
          auth="sandbox", request=JobRunIn, response=JobRunOut, tags=("sandbox",))
def run_job(ctx, body: JobRunIn, job: str):
    from chalicelib import jobs

    known = _known(job)
    run = jobs.run_now(known.name, stop_after_messages=body.stop_after_messages)
    return JobRunOut(**run.to_dict())


@endpoint(bp, "/sandbox/jobs/{job}/runs", methods=("GET",), summary="沙箱:任务的运行记录(最新在前)",
          auth="sandbox", response=list[JobRunOut], tags=("sandbox",))
def list_job_runs(ctx, job: str):
    from chalicelib import deps
    from chalicelib.services.fanout import list_runs

    return [JobRunOut(**r.to_dict()) for r in list_runs(deps.job_runs(), _known(job).name)]


class DrainedOut(ResponseModel):
    messages: int


@endpoint(bp, "/sandbox/jobs-queue/drain", methods=("POST",), summary="沙箱:立即处理任务队列中的全部消息",
          auth="sandbox", response=DrainedOut, tags=("sandbox",))
def drain_job_queue(ctx):
    """What Lambda's SQS poller does in a deployed stage, now: e.g. the rows of a bulk list after its 202."""
    from chalicelib import jobs

    return DrainedOut(messages=jobs.drain_local())
