from django.contrib import admin
from django.urls import include, path

from mcpsite.health import health

urlpatterns = [
    path("health", health, name="health"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("sqltools.urls")),  # /records/<id>, where ChatGPT's citations link
    path("", include("oauth_ext.urls")),  # OAuth: /authorize, /token, /register, /.well-known/*
]
