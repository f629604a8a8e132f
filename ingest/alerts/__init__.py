"""Early warning in the worker: on-site meters, the network warning and the alert messages."""
