"""Notifications through Apprise: every new lead and appointment reaches the phone, once.

Modules, one concern each (see docs/notifications.md for the behaviour; the tables are in
``app.models``):

- ``kinds``: lead / appointment / chatlog, and where targets come from
- ``targets``: APPRISE_URLS / APPRISE_CONFIG / UI targets, keys, masking
- ``templates`` and ``render``: Jinja2 templates to title and body, within each service's limits
- ``send``: one message to one target through its own Apprise object, with Apprise's error text
- ``outbox``: writer jobs (the enqueue hook in ``ingest.records.store_lead``, retries, expiry)
- ``worker``: the thread in the server process that empties the outbox
- ``service`` and ``views``: the API behind Settings → Notifications and ``notify-test``

A leaf below the receiver: it imports only ``app.config``, ``app.db``, ``app.models``,
``app.shapes``, ``app.statements``, ``app.ratelimit`` and itself, never the webhook, ingest,
processing or web modules. The worker and the service do not know each other: ``app.server``
hands both one ``TargetRegistry`` and gives the service the worker's ``wake``; new lead rows
wake the worker through the writer's after-commit announcement (``outbox.NEW_ROWS``).
"""
