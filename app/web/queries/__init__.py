"""What the pages read (and the few small writes they make), one module per area.

Plain functions of a SQLAlchemy ``Connection`` returning rows or dataclasses: no requests, no
responses, no HTML. A query that finds nothing returns None; the page decides what that means.
"""
