"""The ingest worker process: leases, readers, the per-batch pipeline and the SDS archive."""
