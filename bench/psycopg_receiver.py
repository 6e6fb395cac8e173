"""The PostgreSQL baseline: verify the signature, INSERT the lead, commit, answer. Nothing more.

A plain receiver as one would write it with psycopg: one connection per concurrent request (a
queue of ``POOL`` connections), autocommit off, a commit per lead (PostgreSQL's defaults:
``fsync`` and ``synchronous_commit`` on, so success is on disk). Served like the app:
``uvicorn --app-dir bench psycopg_receiver:app``; DATABASE_URL and WEBHOOK_SIGNING_KEY from the
environment.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

SUCCESS = b'{"status":"success"}'
POOL = 16
KEY = os.environ["WEBHOOK_SIGNING_KEY"].encode()
TABLE = """CREATE TABLE IF NOT EXISTS lead (
  id bigserial PRIMARY KEY,
  serial_number text NOT NULL, type text NOT NULL, session_id bigint NOT NULL,
  create_time text NOT NULL, first_name text, last_name text, email text, phone_number text,
  content text, uri text, body text NOT NULL, received_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (serial_number, type, session_id, create_time))"""
INSERT = """INSERT INTO lead (serial_number, type, session_id, create_time, first_name,
  last_name, email, phone_number, content, uri, body) VALUES (%s, %s, %s, %s, %s, %s, %s, %s,
  %s, %s, %s) ON CONFLICT DO NOTHING"""
FIELDS = ("SerialNumber", "Type", "SessionID", "CreateTime", "FirstName", "LastName", "Email")
FIELDS += ("PhoneNumber", "Content", "URI")
connections: asyncio.Queue[psycopg.AsyncConnection] = asyncio.Queue()


def verified(header: str, body: bytes) -> bool:
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    t, signature = parts.get("t", ""), parts.get("v1", "")
    expected = hmac.new(KEY, t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return bool(t and signature) and hmac.compare_digest(expected, signature)


async def webhook(request: Request) -> Response:
    body = await request.body()
    if not verified(request.headers.get("x-webhook-signature", ""), body):
        return Response(b'{"status":"error","error":"Invalid Signature"}', 401)
    lead = json.loads(body)
    connection = await connections.get()
    try:
        async with connection.cursor() as cursor:
            await cursor.execute(INSERT, [*(lead.get(f) for f in FIELDS), body.decode()])
        await connection.commit()
    finally:
        connections.put_nowait(connection)
    return Response(SUCCESS, media_type="application/json")


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    url = os.environ["DATABASE_URL"]
    for _ in range(POOL):
        connections.put_nowait(await psycopg.AsyncConnection.connect(url))
    connection = await connections.get()
    await connection.execute(TABLE)
    await connection.commit()
    connections.put_nowait(connection)
    yield
    while not connections.empty():
        await connections.get_nowait().close()


app = Starlette(routes=[Route("/webhook", webhook, methods=["POST"])], lifespan=lifespan)
