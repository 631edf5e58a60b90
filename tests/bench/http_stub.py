"""An HTTP/1.1 keep-alive stub for the load generator's tests: POST /win answers 201 after SLOW seconds,
anything else 409 at once."""

from __future__ import annotations

import asyncio

SLOW = 0.02  # seconds the stub takes to answer POST /win


async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while head := await reader.readuntil(b"\r\n\r\n"):
            if b" /win " in head.split(b"\r\n", 1)[0]:
                await asyncio.sleep(SLOW)
                status, body = b"201 Created", b'{"id":"r"}'
            else:
                status, body = b"409 Conflict", b'{"error":"sold_out"}'
            writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def post(path: str) -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n".encode()
