"""``larza reprocess``: the live chain over the SDS archive (or an FDSN dataselect service),
cut into station x time chunks run on Dask distributed, stored as a named catalogue run
beside the live catalogue."""

from ingest.reprocess.associate import associate_chunks
from ingest.reprocess.chunk import ChunkPick, ChunkResult, run_chunk, run_config
from ingest.reprocess.fdsn import Fdsn, FdsnChunkError, fdsn_stations
from ingest.reprocess.plan import Chunk, archive_stations, parse_duration, parse_time, plan_chunks
from ingest.reprocess.run import RunSpec, Summary, reprocess, spec_of_run

__all__ = [
    "Chunk",
    "ChunkPick",
    "ChunkResult",
    "Fdsn",
    "FdsnChunkError",
    "RunSpec",
    "Summary",
    "archive_stations",
    "associate_chunks",
    "fdsn_stations",
    "parse_duration",
    "parse_time",
    "plan_chunks",
    "reprocess",
    "run_chunk",
    "run_config",
    "spec_of_run",
]
