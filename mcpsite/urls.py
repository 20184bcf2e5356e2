from django.contrib import admin
from django.urls import include, path

from mcpsite.health import health
from mcpsite.metrics import metrics

urlpatterns = [
    path("health", health, name="health"),
    path("metrics", metrics, name="metrics"),  # off unless METRICS_TOKEN or METRICS_ALLOWED_IPS is set
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("sqltools.urls")),  # /records/<id>, where ChatGPT's citations link
    path("", include("oauth_ext.urls")),  # OAuth: /authorize, /token, /register, /.well-known/*
]
