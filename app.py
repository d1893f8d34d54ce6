"""Chalice entry point: create the app and register the route blueprints. Nothing else happens at import."""
import os

from chalice import Chalice

from chalicelib.api.routes import register

app = Chalice(app_name="huiminbao")
app.api.cors = False
register(app, stage=os.environ.get("HMB_STAGE", ""))
