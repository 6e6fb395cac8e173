"""Notifications through Apprise: every new lead and appointment reaches the phone, once.

Modules, one concern each (see docs/notifications.md for the behaviour):

- ``models``: tables (targets, outbox, template overrides), migration ``notify_0001``
- ``targets``: APPRISE_URLS / APPRISE_CONFIG / UI targets, keys, masking
- ``templates`` and ``render``: Jinja2 templates to title and body, within each service's limits
- ``send``: one message to one target through its own Apprise object, with Apprise's error text
- ``outbox``: writer jobs (the enqueue hook in ``ingest.store_lead``, retries, expiry)
- ``worker``: the thread in the server process that empties the outbox
- ``service`` and ``views``: the API behind Settings → Notifications and ``notify-test``

Deliberately imports nothing: ``app.ingest`` imports ``outbox``, and ``render`` needs ``ingest``.
"""
