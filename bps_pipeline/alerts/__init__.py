"""Alerts: the channels (channels.py), Dagster outcomes turned into alerts (events.py) and the
sensors that send them while the daemon runs (sensors.py)."""
