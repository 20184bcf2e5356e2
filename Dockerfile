# syntax=docker/dockerfile:1
# The MCP server's image: Django under uvicorn, Python 3.11 on Debian 12 (bookworm), non-root.
#
# SQL Server driver: Microsoft ODBC Driver 18 as the mssql-python wheel ships it. mssql-django 2.0
# depends on mssql-python, so the driver is installed with the Python requirements; the image only
# adds the three shared libraries Microsoft documents for Debian. The app selects it with
# MSSQL_PYTHON_DRIVER=mssql_python (set below). docs/deploy.md explains the choice.
# For the pyodbc path instead (DSNs, odbc.ini, Kerberos set up the ODBC way), build with
#   docker compose build --build-arg INSTALL_MSODBCSQL18=1
# which installs msodbcsql18 from packages.microsoft.com (you accept Microsoft's EULA), and set
# MSSQL_PYTHON_DRIVER=pyodbc in .env.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: compile the wheels that need a compiler (mysqlclient) into a virtualenv ----
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev pkg-config libmariadb-dev \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements/ /tmp/requirements/
RUN pip install -r /tmp/requirements/prod.txt

# ---- runtime ----
FROM ${PYTHON_IMAGE} AS runtime
ARG INSTALL_MSODBCSQL18=0
# libodbc2: pyodbc links to unixODBC, and mssql-django imports pyodbc whichever driver it uses.
# libltdl7, libkrb5-3, libgssapi-krb5-2: what mssql-python's bundled driver needs on Debian.
# libmariadb3: mysqlclient (MariaDB/MySQL targets).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libodbc2 libltdl7 libkrb5-3 libgssapi-krb5-2 libmariadb3 \
 && if [ "$INSTALL_MSODBCSQL18" = "1" ]; then \
      apt-get install -y --no-install-recommends ca-certificates curl \
      && . /etc/os-release \
      && curl -fsSL -o /tmp/packages-microsoft-prod.deb \
           "https://packages.microsoft.com/config/debian/${VERSION_ID}/packages-microsoft-prod.deb" \
      && dpkg -i /tmp/packages-microsoft-prod.deb \
      && rm /tmp/packages-microsoft-prod.deb \
      && apt-get update \
      && ACCEPT_EULA=Y apt-get install -y --no-install-recommends msodbcsql18 \
      && apt-get purge -y curl \
      && apt-get autoremove -y; \
    fi \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_ENV=production \
    DJANGO_SETTINGS_MODULE=mcpsite.settings \
    VAR_DIR=/app/var \
    STATIC_ROOT=/app/staticfiles \
    PORT=8008 \
    MSSQL_PYTHON_DRIVER=mssql_python

COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# The code belongs to root and is read-only for the app; only VAR_DIR is writable.
COPY . /app
RUN chmod 0755 /app/docker/*.sh \
 && mkdir -p /app/var \
 && chown app:app /app/var \
 && python -m compileall -q /app

# Static files are collected into the image with the production storage (hashed, compressed
# names and their manifest). These values exist only for this command: settings refuse to load
# in production without them, and none of them is used at run time.
RUN SECRET_KEY=collectstatic-at-build-time-only-never-used-at-run-time-0000000000 \
    ALLOWED_HOSTS=build.invalid PUBLIC_URL=https://build.invalid VAR_DIR=/tmp/build-var \
    python manage.py collectstatic --noinput -v0 \
 && rm -rf /tmp/build-var

USER app
EXPOSE 8008
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "/app/docker/healthcheck.py"]
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["web"]
