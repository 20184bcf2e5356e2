"""Round trips per read and write, counted on the wire and at Django's execute wrapper.

A TCP relay between the driver and PostgreSQL or MariaDB counts turns: each time the client speaks
after the server has answered (or first) is one round trip, however many statements a pipeline
carries. Django's `execute_wrapper` shows which statements went. SQLite is in-process (no round
trips); SQL Server's batches are counted by the TDS responder in vendors/test_mssql.py.
"""

from __future__ import annotations

import socket
import threading

import pytest
from django.db import connections
from django.db.utils import load_backend

from sqltools.query import query_read, query_run, target
from sqltools.tags import SERVER_TAG
from tests.targets import target_params

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


class TurnCounter:
    """Relay one TCP connection at a time to `port`; count the client's turns."""

    def __init__(self, port: int) -> None:
        self.turns, self._last = 0, "server"
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port, self._upstream = self._server.getsockname()[1], port
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self._upstream))
            threading.Thread(target=self._pump, args=(client, upstream, "client"), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, "server"), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, side: str) -> None:
        try:
            while data := source.recv(65536):
                with self._lock:
                    if side == "client" and self._last == "server":
                        self.turns += 1
                    self._last = side
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                end.close()

    def close(self) -> None:
        self._server.close()


@pytest.fixture
def counted(request):
    """A copy of a target alias that goes through a TurnCounter, and the statements Django executes on it."""
    alias = request.param
    base = connections[alias].settings_dict
    counter = TurnCounter(int(base["PORT"]))
    name = f"{alias}_counted"
    # Not in connections.settings: Django's test case admits a connection made on the fly (and only that).
    connections[name] = load_backend(base["ENGINE"]).DatabaseWrapper({**base, "PORT": counter.port}, name)
    statements: list[str] = []

    def log(execute, sql, params, many, context):
        sql = sql.removeprefix(SERVER_TAG)  # the statement tag (tests/sqltools/test_tags.py)
        statements.append(sql.split(" FOR ")[0] if sql.startswith("SET STATEMENT") else sql.split("\n")[0][:40])
        return execute(sql, params, many, context)

    connection = connections[name]
    with connection.execute_wrapper(log):
        query_run(sql="SELECT 1", alias=name)  # connected, session set up: count from here
        counter.turns, statements[:] = 0, []
        yield name, counter, statements
    connection.close()
    del connections[name]
    counter.close()


@pytest.mark.parametrize("counted", target_params("target_pg"), indirect=True)
@pytest.mark.parametrize("max_value_bytes", [16 * 2**20, 64 * 1024])
def test_postgresql_read_is_one_round_trip(counted, sqltools_config, max_value_bytes):
    """BEGIN, the timeout, DECLARE, one FETCH of MAX_ROWS + 1 rows, ROLLBACK and the advisory-lock release ride in
    one pipeline: the
    server stops sending rows once their running size passes what one fetch may hold."""
    name, counter, statements = counted
    sqltools_config(MAX_VALUE_BYTES=max_value_bytes)
    assert query_run(sql="SELECT order_id FROM orders ORDER BY order_id LIMIT 3", alias=name).row_count == 3
    assert counter.turns == 1
    assert statements == [
        "BEGIN READ ONLY",
        "SELECT set_config('statement_timeout', %",
        "DECLARE sqltools_read NO SCROLL CURSOR F",
        "FETCH FORWARD 1001 FROM sqltools_read",
        "ROLLBACK",
        "SELECT pg_advisory_unlock_all()",  # an owner's CHECK may have taken one: none outlives the read
    ]
    counter.turns = 0
    assert query_run(sql="SELECT order_id FROM orders", alias=name).row_count == 1000
    assert counter.turns == 1


@pytest.mark.parametrize("counted", target_params("target_pg"), indirect=True)
def test_postgresql_write_is_two_round_trips(counted, sqltools_config):
    name, counter, statements = counted
    sqltools_config(READ_ONLY=False)
    result = query_run(sql="UPDATE orders SET status = status WHERE order_id = 1", alias=name)
    assert result.rows_affected == 1 and counter.turns == 2
    assert statements == [
        "BEGIN",
        "SELECT set_config('statement_timeout', %",
        "UPDATE orders SET status = status WHERE ",
        "COMMIT",
    ]


@pytest.mark.parametrize("counted", target_params("target_mysql"), indirect=True)
def test_mariadb_read_is_one_round_trip_and_a_write_three(counted, sqltools_config):
    name, counter, statements = counted
    sqltools_config(MAX_ROWS=5, READ_ONLY=False)
    result = query_run(sql="SELECT order_id FROM orders ORDER BY order_id", alias=name)
    assert (result.row_count, result.truncated, counter.turns) == (5, True, 1)
    assert statements == ["SET STATEMENT tx_read_only = 1, max_statement_time = 5.000, sql_select_limit = 6"]
    counter.turns = 0
    assert query_run(sql="UPDATE orders SET status = status WHERE order_id = 1", alias=name).rows_affected == 1
    assert counter.turns == 3  # START TRANSACTION, the statement, COMMIT: MAX_AFFECTED_ROWS can still roll it back


@pytest.mark.parametrize("counted", target_params("target_pg", "target_mysql"), indirect=True)
def test_the_cost_guard_adds_one_round_trip_the_estimate(counted, sqltools_config):
    """Only with a limit configured; the EXPLAIN rides alone (PostgreSQL: pipelined with its transaction)."""
    name, counter, statements = counted
    sqltools_config(MAX_ESTIMATED_ROWS=1_000_000)
    assert query_run(sql="SELECT order_id FROM orders ORDER BY order_id LIMIT 3", alias=name).row_count == 3
    assert counter.turns == 2
    if name.startswith("target_pg"):
        assert statements[:4] == ["BEGIN READ ONLY", "SELECT set_config('statement_timeout', %",
                                  "EXPLAIN (FORMAT JSON) SELECT order_id FR", "ROLLBACK"]
    else:  # the EXPLAIN and the read, each one SET STATEMENT … FOR
        assert len(statements) == 2 and statements[0].startswith("SET STATEMENT tx_read_only = 1, max_statement_time")


@pytest.mark.parametrize("counted", target_params("target_mysql"), indirect=True)
def test_mariadb_generated_read_with_parameters_is_one_round_trip(counted):
    name, counter, _ = counted
    connection, vendor = target(name)
    result = query_read(connection=connection, vendor=vendor, sql="SELECT order_id FROM orders WHERE order_id = %s",
                        params=[7], max_rows=1)
    assert result.rows == [[7]] and counter.turns == 1


def test_sqlite_read_runs_in_process(sqltools_config):
    """No network: the statements are BEGIN and the query (Django's cursor; the pragmas and ROLLBACK are the
    driver's)."""
    statements: list[str] = []
    connection = connections["target"]
    with connection.execute_wrapper(lambda execute, sql, *rest: statements.append(sql) or execute(sql, *rest)):
        assert query_run(sql="SELECT 1 AS one", alias="target").rows == [[1]]
    assert statements == ["BEGIN", f"{SERVER_TAG}SELECT 1 AS one"]
