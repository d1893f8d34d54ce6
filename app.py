"""Chalice entry point: create the app, register the route blueprints, and define one Lambda handler per schedule
(chalicelib/schedules.py) plus the SQS job worker. Nothing else happens at import."""
import os

from chalice import Chalice

from chalicelib.api.routes import register
from chalicelib.schedules import SCHEDULES

app = Chalice(app_name="huiminbao")
app.api.cors = False
register(app, stage=os.environ.get("HMB_STAGE", ""))

# SQS messages per worker invocation; each message carries a few hundred items (chalicelib/services/fanout.py).
JOB_WORKER_BATCH = 4


def _scheduled_handler(job: str, handler_name: str):
    def handler(event):
        from chalicelib import jobs

        return jobs.run_scheduled(job, event)

    handler.__name__ = handler.__qualname__ = handler_name  # chalice's handler string is app.<function name>
    handler.__doc__ = f"Scheduled: start a run of the `{job}` job (chalicelib/jobs.py)."
    return handler


for _schedule in SCHEDULES:
    globals()[_schedule.handler] = app.schedule(_schedule.expression, name=_schedule.handler,
                                                description=_schedule.description)(
        _scheduled_handler(_schedule.job_name, _schedule.handler))


# The queue named here is a placeholder: the CDK stack points the event source mapping at its own queue and adds
# ReportBatchItemFailures (chalice's on_sqs_message does not set FunctionResponseTypes).
@app.on_sqs_message(queue="huiminbao-jobs", batch_size=JOB_WORKER_BATCH, name="job_worker")
def job_worker(event):
    """Handle fan-out job messages; answers the messages to deliver again (partial batch failures)."""
    from chalicelib import jobs

    return jobs.handle_sqs_event(event.to_dict())


@app.middleware("all")
def request_ids_on_every_log_line(event, get_response):
    """API Gateway's and Lambda's request ids on every log line of this invocation (chalicelib/observability.py)."""
    from chalicelib.observability import bind_request_ids, ids_of

    with bind_request_ids(ids_of(event)):
        return get_response(event)


@app.lambda_function(name="document_uploaded")
def document_uploaded(event, context):
    """The documents bucket's ObjectCreated events under claims/ (wired in the CDK stack): verify each uploaded claim
    document as the client's verify call would, so a client that crashed after uploading still completes its claim."""
    from chalicelib import jobs

    return jobs.document_uploaded(event)
