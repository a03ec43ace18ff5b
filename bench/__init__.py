"""`make bench`: whole-process wall time and peak memory per stage, at stated district sizes.

Outside the runtime package: it drives `bps-pipeline` as a deployment would, in separate processes.
"""
