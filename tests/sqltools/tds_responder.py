"""A test double for the far end of the SQL Server driver stack: it speaks just enough TDS 7.4.

It answers prelogin (no encryption: ENCRYPT_NOT_SUP), acknowledges any login (LOGINACK, ENVCHANGE
for database, collation and packet size, DONE), and then answers each request from a script: the
first rule whose text is found in a SQL batch (or an RPC's statement) decides the reply, which is a
rowset, silence (to test timeouts) or a dropped connection; anything else gets a bare DONE.
Transaction-manager requests get the ENVCHANGE a server sends. It is not a SQL Server and runs no
SQL: every answer is the script's. Each request is recorded, so a test can count round trips.
"""

from __future__ import annotations

import socket
import struct
import threading
from dataclasses import dataclass, field
from typing import Any

# Packet types (client to server) and the one the server answers with.
BATCH, RPC, ATTENTION, LOGIN7, TRANSACTION, PRELOGIN, REPLY = 0x01, 0x03, 0x06, 0x10, 0x0E, 0x12, 0x04
DONE, DONEPROC, DONE_MORE, DONE_COUNT, DONE_ATTN = 0xFD, 0xFE, 0x01, 0x10, 0x20
INT, NVARCHAR = "int", "nvarchar"
_COLLATION = bytes.fromhex("0904d00034")  # Latin1_General_CI_AS
_TM_NAMES = {5: "BEGIN TRANSACTION", 7: "COMMIT", 8: "ROLLBACK", 9: "SAVE TRANSACTION"}


@dataclass
class Rows:
    columns: list[tuple[str, str]]  # (name, INT | NVARCHAR)
    rows: list[tuple[Any, ...]]


SILENT, DROP = "silent", "drop"


@dataclass
class Rule:
    contains: str
    reply: Rows | str  # Rows, SILENT or DROP
    times: int | None = None  # how often it applies; None: always


@dataclass
class TdsResponder:
    """Listen on 127.0.0.1 (an ephemeral port) and answer by `rules`; `requests` holds (kind, text) as received."""

    rules: list[Rule] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._lock = threading.Lock()
        self._clients: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._server.close()
        for client in list(self._clients):
            _close(client)

    def batches(self) -> list[str]:
        """The texts of the SQL batches and RPCs received, in order."""
        return [text for kind, text in self.requests if kind in ("batch", "rpc", "tm")]

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            self._clients.append(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            while True:
                kind, payload = _read_message(client)
                if not self._answer(client, kind, payload):
                    break
        except (OSError, ConnectionError):
            pass
        finally:
            _close(client)

    def _answer(self, client: socket.socket, kind: int, payload: bytes) -> bool:
        if kind == PRELOGIN:
            client.sendall(_packet(_prelogin_reply()))
        elif kind == LOGIN7:
            client.sendall(_packet(_login_reply()))
        elif kind == ATTENTION:
            self.requests.append(("attention", ""))
            client.sendall(_packet(_done(DONE, DONE_ATTN)))
        elif kind == TRANSACTION:
            return self._transaction(client, payload)
        elif kind in (BATCH, RPC):
            text = _batch_text(payload) if kind == BATCH else _rpc_text(payload)
            self.requests.append(("batch" if kind == BATCH else "rpc", text))
            reply = self._reply_for(text)
            if reply == DROP:
                return False
            if reply != SILENT:
                client.sendall(_packet(_result(reply, rpc=kind == RPC)))
        return True

    def _transaction(self, client: socket.socket, payload: bytes) -> bool:
        request = struct.unpack_from("<H", payload, struct.unpack_from("<I", payload)[0])[0]
        self.requests.append(("tm", _TM_NAMES.get(request, f"TM {request}")))
        descriptor = b"\x01" + bytes(7)
        if request == 5:  # begin: a new transaction descriptor
            change = _envchange(8, bytes([8]) + descriptor + b"\x00")
        else:  # commit or rollback: the old one ends
            change = _envchange(9 if request == 7 else 10, b"\x00" + bytes([8]) + descriptor)
        client.sendall(_packet(change + _done(DONE, 0)))
        return True

    def _reply_for(self, text: str) -> Rows | str | None:
        with self._lock:
            for rule in self.rules:
                if rule.contains in text and rule.times != 0:
                    if rule.times is not None:
                        rule.times -= 1
                    return rule.reply
        return None


def _close(client: socket.socket) -> None:
    try:
        client.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    client.close()


def _read_exact(client: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = client.recv(size - len(data))
        if not chunk:
            raise ConnectionError("client closed")
        data += chunk
    return data


def _read_message(client: socket.socket) -> tuple[int, bytes]:
    """One message: packets up to the one whose status says end of message."""
    payload = b""
    while True:
        kind, status, length = struct.unpack(">BBH", _read_exact(client, 8)[:4])
        payload += _read_exact(client, length - 8)
        if status & 0x01:
            return kind, payload


def _packet(payload: bytes, size: int = 4096) -> bytes:
    out, chunks = b"", [payload[i:i + size - 8] for i in range(0, len(payload), size - 8)] or [b""]
    for number, chunk in enumerate(chunks, 1):
        status = 0x01 if number == len(chunks) else 0x00
        out += struct.pack(">BBHHBB", REPLY, status, len(chunk) + 8, 0, number % 256, 0) + chunk
    return out


def _prelogin_reply() -> bytes:
    options = [(0x00, bytes([16, 0, 0x07, 0xD0, 0, 0])), (0x01, b"\x02"), (0x02, b"\x00"),
               (0x03, bytes(4)), (0x04, b"\x00")]  # version 16.0, ENCRYPT_NOT_SUP, instance, thread, no MARS
    offset, heads, data = 5 * len(options) + 1, b"", b""
    for token, value in options:
        heads += struct.pack(">BHH", token, offset + len(data), len(value))
        data += value
    return heads + b"\xff" + data


def _b_varchar(text: str) -> bytes:
    return bytes([len(text)]) + text.encode("utf-16-le")


def _envchange(kind: int, body: bytes) -> bytes:
    return struct.pack("<BHB", 0xE3, len(body) + 1, kind) + body


def _login_reply() -> bytes:
    ack = struct.pack("<B", 1) + bytes.fromhex("74000004") + _b_varchar("tds_responder") + bytes([16, 0, 0, 0])
    return (
        _envchange(1, _b_varchar("demo") + _b_varchar("master"))
        + _envchange(7, bytes([5]) + _COLLATION + b"\x00")
        + struct.pack("<BH", 0xAD, len(ack)) + ack
        + _envchange(4, _b_varchar("4096") + _b_varchar("4096"))
        + _done(DONE, 0)
    )


def _done(token: int, status: int, count: int = 0) -> bytes:
    return struct.pack("<BHHQ", token, status, 0xC1, count)


def _result(reply: Rows | None, *, rpc: bool) -> bytes:
    body = b""
    if reply is not None:
        body += struct.pack("<BH", 0x81, len(reply.columns))
        for name, kind in reply.columns:
            type_info = b"\x26\x04" if kind == INT else b"\xe7" + struct.pack("<H", 8000) + _COLLATION
            body += struct.pack("<IH", 0, 0x0001) + type_info + _b_varchar(name)  # nullable
        for row in reply.rows:
            body += b"\xd1" + b"".join(_value(value, kind) for value, (_, kind) in zip(row, reply.columns))
    count = len(reply.rows) if reply is not None else 0
    status = DONE_COUNT if reply is not None else 0
    if rpc:
        return body + _done(0xFF, status | DONE_MORE, count) + b"\x79" + bytes(4) + _done(DONEPROC, 0)
    return body + _done(DONE, status, count)


def _value(value: Any, kind: str) -> bytes:
    if kind == INT:
        return b"\x00" if value is None else b"\x04" + struct.pack("<i", value)
    if value is None:
        return b"\xff\xff"
    data = str(value).encode("utf-16-le")
    return struct.pack("<H", len(data)) + data


def _batch_text(payload: bytes) -> str:
    return payload[struct.unpack_from("<I", payload)[0]:].decode("utf-16-le", "replace")


def _rpc_text(payload: bytes) -> str:
    """The statement of an sp_executesql or sp_prepexec call (its first or second string parameter)."""
    data = payload[struct.unpack_from("<I", payload)[0]:]
    proc, position = (struct.unpack_from("<H", data, 2)[0], 4) if data[:2] == b"\xff\xff" else (None, 2 + 2 * data[0])
    position, strings = position + 2, []  # option flags
    while position < len(data) and data[position] != 0xFF:  # 0xFF: a batch separator (not sent here)
        position += 1 + 2 * data[position] + 1  # name, status
        kind = data[position]
        if kind == 0x26:  # INTN: max length, then length and value
            position += 2
            position += 1 + data[position]
        elif kind in (0xE7, 0x63):  # NVARCHAR (2-byte lengths, or PLP chunks for max), NTEXT (4-byte); a collation
            width = 2 if kind == 0xE7 else 4
            plp = kind == 0xE7 and data[position + 1:position + 3] == b"\xff\xff"
            position += 1 + width + 5
            text, position = _plp(data, position) if plp else _counted(data, position, width)
            strings.append(text.decode("utf-16-le", "replace"))
        else:
            break  # a type the double does not read: the statement came before it
    if not strings:
        return ""
    return strings[0] if proc == 10 or len(strings) == 1 else strings[1]


def _counted(data: bytes, position: int, width: int) -> tuple[bytes, int]:
    length = int.from_bytes(data[position:position + width], "little")
    length = 0 if length == (1 << 8 * width) - 1 else length  # all ones: NULL
    return data[position + width:position + width + length], position + width + length


def _plp(data: bytes, position: int) -> tuple[bytes, int]:
    """A partially length-prefixed value: its total length (8 bytes), then chunks up to one of length 0."""
    position, text = position + 8, b""
    if data[position - 8:position] == b"\xff" * 8:
        return text, position  # NULL
    while chunk := struct.unpack_from("<I", data, position)[0]:
        text += data[position + 4:position + 4 + chunk]
        position += 4 + chunk
    return text, position + 4
