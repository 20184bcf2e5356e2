"""manage.py ensure_admin: one admin with a printed password on the embedded default, and never more."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command


def _ensure_admin() -> str:
    out = io.StringIO()
    call_command("ensure_admin", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_ensure_admin_creates_one_admin_with_a_printed_password():
    output = _ensure_admin()
    password = output.split("password: ", 1)[1].split()[0]
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff and admin.check_password(password)
    assert len(password) >= 16
    assert _ensure_admin() == ""  # the second run does nothing and prints nothing
    assert get_user_model().objects.filter(is_superuser=True).count() == 1
    assert get_user_model().objects.get(username="admin").check_password(password)


@pytest.mark.django_db
def test_ensure_admin_does_nothing_when_a_superuser_exists(django_user_model):
    django_user_model.objects.create_superuser(username="dba", password="x" * 20)
    assert _ensure_admin() == ""
    assert not django_user_model.objects.filter(username="admin").exists()


@pytest.mark.django_db
def test_ensure_admin_never_invents_a_password_off_the_embedded_default(settings, django_user_model):
    settings.DJANGO_ENV = "production"
    assert "createsuperuser" in _ensure_admin()
    assert not django_user_model.objects.exists()
