"""The login-node client, served at /client/portal (portal_client.py runs on its own)."""
