"""Quality: the Great Expectations gate on the marts (gate.py) and its blocking asset checks."""
