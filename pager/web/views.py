"""The REST API's JSON views; they live in pager.core.views (transports and replay use them
too), re-exported here where the web layer has always found them."""

from pager.core.views import alert_json, incident_json, summary_json, timeline_json

__all__ = ["alert_json", "incident_json", "summary_json", "timeline_json"]
