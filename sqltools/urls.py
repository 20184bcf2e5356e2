"""sqltools' page: /records/<id>, where the fetch tool's citations (sqltools.search.record_url) link."""

from __future__ import annotations

from django.urls import path

from sqltools.search import RECORDS_PATH
from sqltools.views import record_show

urlpatterns = [
    path(f"{RECORDS_PATH}<path:record_id>", record_show, name="record"),
]
