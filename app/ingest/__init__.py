"""The parse stage: stored deliveries to records.

- ``records``: leads and appointments, chatbots (the statements run for every lead)
- ``chatlog``: the one chat-log writer: windows opened, filled in chunks, closed
- ``stream``: a large chat-log body read as a stream of windows and conversations
- ``blob``: a stored body read in pieces
- ``pipeline``: where a writer's jobs go: one transaction, or the writer thread in order
- ``documents``: a small body's records, inside the transaction that stores it
- ``processor``: the background thread that turns pending deliveries into records

Imports downward only (models, db, shapes, statements, notify's outbox); the receiver
(``app.deliveries``) imports this package, never the other way round.
"""
