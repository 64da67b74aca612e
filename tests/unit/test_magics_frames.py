"""Listing.to_pandas(): Docker's listings as DataFrames with typed columns."""

from __future__ import annotations

import pytest

from dockerlab.cli import render
from dockerlab.magics.display import Listing

pd = pytest.importorskip("pandas")

CREATED = 1_700_000_000
PS = {
    "Id": "a" * 64,
    "Names": ["/web"],
    "Image": "busybox",
    "Command": "sleep 60",
    "Created": CREATED,
    "State": "running",
    "Status": "Up 2 seconds",
    "Ports": [],
    "Labels": {},
    "Mounts": [],
    "SizeRw": 12,
    "SizeRootFs": 4_400_000,
}
IMAGE = {
    "Id": "sha256:" + "b" * 64,
    "RepoTags": ["busybox:latest"],
    "RepoDigests": [],
    "Created": CREATED,
    "Size": 4_261_550,
    "SharedSize": -1,
    "Containers": -1,
}


def test_ps_frame_has_dockers_columns_created_as_datetime_and_sizes_in_bytes():
    frame = Listing(
        render.ps([PS, {**PS, "Names": ["/db"]}], size=True, now=CREATED + 5)
    ).to_pandas()
    assert list(frame.columns[:7]) == [
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ]
    assert list(frame["NAMES"]) == ["web", "db"]
    assert pd.api.types.is_datetime64_any_dtype(frame["CREATED"])
    assert frame["CREATED"][0] == pd.Timestamp(CREATED, unit="s", tz="UTC")
    assert frame["SIZE"].dtype == "int64" and frame["SIZE"][0] == 12
    assert frame["VIRTUAL SIZE"][0] == 4_400_000


def test_images_frame_sizes_are_ints_and_created_a_datetime():
    frame = Listing(render.images([IMAGE], now=CREATED + 60)).to_pandas()
    assert list(frame.columns) == ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
    assert frame["SIZE"].dtype == "int64" and int(frame["SIZE"][0]) == 4_261_550
    assert frame["CREATED"][0].year == 2023
    assert frame["IMAGE ID"][0] == "b" * 12


def test_history_frame_layer_sizes_in_bytes():
    entries = [
        {"Id": "sha256:" + "c" * 64, "Created": CREATED, "CreatedBy": 'CMD ["sh"]', "Size": 0},
        {"Id": "<missing>", "Created": CREATED - 10, "CreatedBy": "ADD file", "Size": 4_261_550},
    ]
    frame = Listing(render.history(entries, now=CREATED + 60)).to_pandas()
    assert list(frame["SIZE"]) == [0, 4_261_550]
    assert frame["SIZE"].dtype == "int64"
    assert frame["CREATED"][1] < frame["CREATED"][0]
    assert frame["CREATED BY"][0].startswith("CMD")


def _stats_sample() -> dict:
    return {
        "id": "d" * 64,
        "name": "/web",
        "cpu_stats": {
            "cpu_usage": {"total_usage": 200},
            "system_cpu_usage": 1000,
            "online_cpus": 1,
        },
        "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 500},
        "memory_stats": {"usage": 2_000_000, "limit": 33_554_432, "stats": {}},
        "networks": {"eth0": {"rx_bytes": 10, "tx_bytes": 20}},
        "blkio_stats": {},
        "pids_stats": {"current": 3},
    }


def test_stats_frame_splits_paired_cells_into_typed_columns():
    frame = Listing(render.stats([render.StatsRow(_stats_sample())])).to_pandas()
    assert list(frame.columns) == [
        "CONTAINER ID",
        "NAME",
        "CPU %",
        "MEM USAGE",
        "MEM LIMIT",
        "MEM %",
        "NET RX",
        "NET TX",
        "BLOCK READ",
        "BLOCK WRITE",
        "PIDS",
    ]
    row = frame.iloc[0]
    assert row["MEM LIMIT"] == 33_554_432 and row["PIDS"] == 3
    assert (row["NET RX"], row["NET TX"]) == (10, 20)
    assert frame["CPU %"].dtype == "float64"


def test_a_custom_table_format_keeps_the_columns_it_shows():
    frame = Listing(render.images([IMAGE], fmt="table {{.Repository}}\t{{.Size}}")).to_pandas()
    assert list(frame.columns) == ["REPOSITORY", "SIZE"]
    assert frame["SIZE"][0] == 4_261_550


def test_a_listing_without_row_records_keeps_the_text():
    frame = Listing(render.top({"Titles": ["PID", "CMD"], "Processes": [["1", "sh"]]})).to_pandas()
    assert frame.to_dict("records") == [{"PID": "1", "CMD": "sh"}]
