"""gunicorn settings the portal needs whatever the deployment:
`gunicorn -c python:portal.gunicorn_conf --bind … portal.wsgi:app`.

Only what concerns safety lives here; binding, workers and log files stay on the command
line (etc/run-portal.sh, or the systemd unit).
"""

# Access-log lines without query-string credentials or Authorization/Cookie headers.
logger_class = "portal.logredact.RedactingLogger"
