"""The few things that differ between database vendors, behind one small table.

Everything else in sqltools goes through Django's database API. A Vendor knows its sqlglot
dialect, its catalog queries, how to cap rows and time for a read, and how to limit a sample.
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

from sqltools.vendors.base import Vendor
from sqltools.vendors.mssql import MSSQL
from sqltools.vendors.mysql import MySQL
from sqltools.vendors.postgresql import PostgreSQL
from sqltools.vendors.sqlite import SQLite

VENDORS: dict[str, Vendor] = {v.name: v for v in (MSSQL(), PostgreSQL(), MySQL(), SQLite())}


def vendor_for(connection: BaseDatabaseWrapper) -> Vendor:
    """The Vendor of a Django connection (mssql-django reports vendor 'microsoft')."""
    name = {"microsoft": "mssql"}.get(connection.vendor, connection.vendor)
    try:
        return VENDORS[name]
    except KeyError:
        raise LookupError(f"Database vendor {connection.vendor!r} is not supported as a target.") from None


__all__ = ["VENDORS", "Vendor", "vendor_for"]
