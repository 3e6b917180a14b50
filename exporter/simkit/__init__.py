"""The simulator's toolkit: what every provider's simulated upstream builds on.

It sits below the providers (each `providers/<name>/simulated.py` imports it);
the simulator itself (`exporter.simulator`) sits above them and loops over the registry.
"""
