"""Chalice entry point: create the app and register the route blueprints. Nothing else happens at import."""
import os

from chalice import Chalice, Cron, Rate

from chalicelib.api.routes import register

app = Chalice(app_name="huiminbao")
app.api.cors = False
register(app, stage=os.environ.get("HMB_STAGE", ""))


@app.schedule(Rate(10, unit=Rate.MINUTES), name="reconcile_orders")
def reconcile_orders(event):
    """Settle orders a failure left between payment and cover (chalicelib/services/orders.py `reconcile`)."""
    from chalicelib import jobs

    return jobs.reconcile_orders(event)


@app.schedule(Cron(0, 18, "*", "*", "?", "*"), name="claim_deadline_sweep")
def claim_deadline_sweep(event):
    """02:00 Beijing daily: claims past their 15-working-day decision deadline (chalicelib/jobs.py)."""
    from chalicelib import jobs

    return jobs.claim_deadline_sweep(event)


@app.lambda_function(name="document_uploaded")
def document_uploaded(event, context):
    """The documents bucket's ObjectCreated events under claims/ (wired in the CDK stack): verify each uploaded claim
    document as the client's verify call would, so a client that crashed after uploading still completes its claim."""
    from chalicelib import jobs

    return jobs.document_uploaded(event)
