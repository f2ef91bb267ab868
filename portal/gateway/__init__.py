"""The session gateway (issue #14): an asyncio process in front of the WSGI app.

It holds the data path of `/s/<id>/…` (HTTP, streaming, websockets) so an open websocket
costs a coroutine and two sockets, not a gunicorn thread and a database connection, and
forwards everything else (pages, API, the web terminal) to gunicorn. It never opens the
database: the app decides each connection once (portal/gateway/internal.py) with the same
rules as the WSGI proxy (portal/services/proxy.py) and answers with a short-lived signed
decision; the gateway re-asks in one batched call every RECHECK seconds and closes the
connections that are no longer allowed (session ended, whitelist changed, logged out).
"""
