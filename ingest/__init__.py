"""Larza ingest: the SeedLink worker, the demo/drill feed and the command line."""
