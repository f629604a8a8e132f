"""The SDS archive: exactly once, byte for byte, readable by ObsPy's SDS client."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from obspy import Stream, Trace, UTCDateTime
from obspy.clients.filesystem.sds import Client as SdsClient
from sqlalchemy.orm import Session

from ingest.worker.archive import SdsArchive, sds_path
from stations.queries import ChannelKey, archive_file_size

KEY = ChannelKey("TJ", "SAREZ", "", "HHZ")
NOW = datetime(2025, 6, 1, tzinfo=UTC)


def _records(n_samples: int = 3000) -> list[bytes]:
    rng = np.random.default_rng(5)
    trace = Trace(
        rng.normal(0, 300, n_samples).astype(np.int32),
        header={
            "network": "TJ",
            "station": "SAREZ",
            "channel": "HHZ",
            "sampling_rate": 100.0,
            "starttime": UTCDateTime(2025, 6, 1, 10),
        },
    )
    buf = io.BytesIO()
    Stream([trace]).write(buf, format="MSEED", reclen=512, encoding="STEIM2")
    raw = buf.getvalue()
    return [raw[i : i + 512] for i in range(0, len(raw), 512)]


def test_sds_layout() -> None:
    start = UTCDateTime(2025, 2, 3, 23, 59, 59).timestamp
    assert sds_path(KEY, start) == "2025/TJ/SAREZ/HHZ.D/TJ.SAREZ..HHZ.D.2025.034"


def test_records_land_byte_for_byte_and_obspy_reads_them(session: Session, tmp_path: Path) -> None:
    archive = SdsArchive(tmp_path)
    recs = _records()
    for rec in recs:
        archive.append(
            session, key=KEY, starttime=UTCDateTime(2025, 6, 1, 10).timestamp, record=rec
        )
    archive.store_index(session, now=NOW)
    archive.committed()
    relative = sds_path(KEY, UTCDateTime(2025, 6, 1, 10).timestamp)
    assert (tmp_path / relative).read_bytes() == b"".join(recs)
    assert archive_file_size(session, path=relative) == 512 * len(recs)
    st = SdsClient(str(tmp_path)).get_waveforms(
        "TJ", "SAREZ", "", "HHZ", UTCDateTime(2025, 6, 1, 10), UTCDateTime(2025, 6, 1, 10, 1)
    )
    assert len(st) == 1
    assert st[0].stats.npts == 3000


def test_a_write_whose_transaction_was_lost_is_not_duplicated(
    session: Session, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recs = _records()
    start = UTCDateTime(2025, 6, 1, 10).timestamp
    archive = SdsArchive(tmp_path)
    archive.append(session, key=KEY, starttime=start, record=recs[0])
    archive.store_index(session, now=NOW)
    archive.committed()
    # The worker dies after writing two more records but before their transaction commits.
    nested = session.begin_nested()
    archive.append(session, key=KEY, starttime=start, record=recs[1])
    archive.append(session, key=KEY, starttime=start, record=recs[2])
    archive.store_index(session, now=NOW)
    nested.rollback()
    # A new process (nothing in memory) is sent both records again on resume.
    restarted = SdsArchive(tmp_path)
    for rec in recs[1:4]:
        restarted.append(session, key=KEY, starttime=start, record=rec)
    restarted.store_index(session, now=NOW)
    restarted.committed()
    assert (tmp_path / sds_path(KEY, start)).read_bytes() == b"".join(recs[:4])
    assert archive_file_size(session, path=sds_path(KEY, start)) == 4 * 512
    assert "cutting 1024 bytes written after the last commit" in caplog.text


def test_a_failed_transaction_in_the_same_process_is_not_duplicated(
    session: Session, tmp_path: Path
) -> None:
    recs = _records()
    start = UTCDateTime(2025, 6, 1, 10).timestamp
    archive = SdsArchive(tmp_path)
    nested = session.begin_nested()
    archive.append(session, key=KEY, starttime=start, record=recs[0])
    archive.store_index(session, now=NOW)
    nested.rollback()
    archive.rolled_back()
    archive.append(session, key=KEY, starttime=start, record=recs[0])
    archive.store_index(session, now=NOW)
    archive.committed()
    assert (tmp_path / sds_path(KEY, start)).read_bytes() == recs[0]


def test_a_station_handed_back_by_another_worker_keeps_that_workers_records(
    session: Session, tmp_path: Path
) -> None:
    """Worker A archives, loses the station's lease to B, which archives more, then gets it
    back: A re-reads the committed size and appends after B's records."""
    recs = _records()
    start = UTCDateTime(2025, 6, 1, 10).timestamp
    first, second = SdsArchive(tmp_path), SdsArchive(tmp_path)
    for archive, part in ((first, recs[:2]), (second, recs[2:4])):
        for rec in part:
            archive.append(session, key=KEY, starttime=start, record=rec)
        archive.store_index(session, now=NOW)
        archive.committed()
    first.forget()
    first.append(session, key=KEY, starttime=start, record=recs[4])
    first.store_index(session, now=NOW)
    first.committed()
    first.close()
    assert (tmp_path / sds_path(KEY, start)).read_bytes() == b"".join(recs[:5])
    assert archive_file_size(session, path=sds_path(KEY, start)) == 5 * 512


def test_day_files_stay_open_within_a_limit_and_every_record_lands(
    session: Session, tmp_path: Path
) -> None:
    recs = _records()
    start = UTCDateTime(2025, 6, 1, 10).timestamp
    keys = [ChannelKey("TJ", "SAREZ", "", c) for c in ("HHZ", "HHN", "HHE")]
    archive = SdsArchive(tmp_path, max_open=2)
    for rec in recs[:4]:
        for key in keys:
            archive.append(session, key=key, starttime=start, record=rec)
    archive.store_index(session, now=NOW)
    archive.committed()
    assert len(archive._open) <= 2
    archive.close()
    for key in keys:
        assert (tmp_path / sds_path(key, start)).read_bytes() == b"".join(recs[:4])
