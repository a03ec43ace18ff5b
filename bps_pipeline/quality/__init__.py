"""Quality: the Great Expectations gate over the published marts (gate.py)."""
