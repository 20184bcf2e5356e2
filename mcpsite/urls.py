from django.contrib import admin
from django.urls import include, path

from mcpsite.health import health
from mcpsite.metrics import metrics
from mcpsite.records import record_show

urlpatterns = [
    path("health", health, name="health"),
    path("metrics", metrics, name="metrics"),  # off unless METRICS_TOKEN or METRICS_ALLOWED_IPS is set
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("records/<path:record_id>", record_show, name="record"),  # where ChatGPT's citations link
    path("", include("oauth_ext.urls")),  # OAuth: /authorize, /token, /register, /.well-known/*
]
