"""Forwarding: every record also POSTed to the user's own systems (a CRM, n8n, Home Assistant,
an Apps Script), signed to the Standard Webhooks specification, durably, once each.

Modules, one concern each (behaviour in docs/forwarding.md; the tables are in ``app.models``):

- ``destinations``: FORWARD_URLS and the browser's destinations, URL checks, masking, secrets
- ``signing``: the ``webhook-id`` / ``webhook-timestamp`` / ``webhook-signature`` headers
- ``transport``: one POST, redirects not followed, bounded answer, never to the appliance itself
- ``payload``: the vendor's record as received (a lead, an appointment, a chat-log window)
- ``outbox``: writer jobs (the enqueue hooks in ``ingest``, retries, expiry, replay)
- ``worker``: the thread in the server process that empties the outbox
- ``service`` and ``cli``: the API behind Settings → Forwarding and ``forward-test``

A leaf like ``app.notify``: it imports only ``app.config``, ``app.db``, ``app.models``,
``app.shapes``, ``app.statements``, ``app.ratelimit`` and itself. New rows wake the worker
through the writer's after-commit announcement (``outbox.NEW_ROWS``).
"""
