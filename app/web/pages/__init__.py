"""The request handlers, one module per area: parse the input, call the area's query functions
(``app.web.queries``), render. Each module's ``ROUTES`` is mounted by ``app.web.ui.WebUI``.
"""
