"""The inbox web UI: pages, JSON API, CSV export and calendar feed (``ui.WebUI`` wires them in).

- ``pages/<area>.py``: the handlers of one area and its ``ROUTES``. A handler parses the
  request, calls query functions, renders.
- ``queries/<area>.py``: what the area reads (and its few small writer jobs), as plain
  functions of a ``Connection``; a query that finds nothing returns None.
- ``paging``: the one keyset paging helper; ``errors``: ``NotFound`` (404) and ``BadParameter``
  (400), answered once in ``error_pages``; ``store``: the ``app_setting`` values.
- ``context``, ``templating``: rendering; ``auth``, ``csrf``, ``security``: who may pass.
"""
