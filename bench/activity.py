"""A record's activity read from a large runs audit, against the Runs page's own query.

Fills a fresh SQLite state database with ``--runs`` runs on one collection of 10,000 records
(94% on one id, 5% on five ids, 1% select-all with a filter; what ``RunsService.begin``
writes, inserted in bulk), then times, for random records, one page of
``ActivityService.for_record`` (20 entries, as an admin) against the baseline: one page of
``RunsService.list(collection=...)``, the query behind the Runs page, on the same database in
the same run. Prints the medians and their ratio. Target: activity page ≤ 3x the runs page.

    .venv/bin/python bench/activity.py                # 200,000 runs
    .venv/bin/python bench/activity.py --quick        # 5,000 runs, a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from actiondesk.actions.caller import Caller
from actiondesk.activity.service import ActivityService
from actiondesk.data.datasource import Datasource
from actiondesk.data.state import StateStore, runs_table
from actiondesk.data.state_schema.activity import run_records_table
from actiondesk.permissions.access import Access
from actiondesk.permissions.service import PermissionsService, RoleSpec
from actiondesk.runs.record_index import index_of
from actiondesk.runs.store import RunsService
from actiondesk.selections.resolve import SelectionResolver

RECORDS = 10_000
items = sa.Table("bench_items", sa.MetaData(),
                 sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                 sa.Column("status", sa.String(20), nullable=False))


def run_row(i: int, rng: random.Random, start: dt.datetime) -> tuple[dict[str, object],
                                                                      list[dict[str, str]]]:
    draw = rng.random()
    if draw < 0.01:
        selection: dict[str, object] = {
            "all_records": True, "filter": {"field": "status", "operator": "equal",
                                            "value": rng.choice(["live", "pending"])},
            "search": None, "excluded_ids": [], "parent": None}
    elif draw < 0.06:
        selection = {"ids": [str(rng.randint(1, RECORDS)) for _ in range(5)], "parent": None}
    else:
        selection = {"ids": [str(rng.randint(1, RECORDS))], "parent": None}
    index = index_of(selection)
    run_id = uuid.uuid4().hex
    row = {"id": run_id, "action_slug": "mark", "action_name": "Mark",
           "collection": "bench_items", "scope": "bulk", "caller_id": "u1",
           "caller_email": "bench@bench.example", "caller": {"id": "u1"},
           "selection": selection, "values": {}, "status": "succeeded", "status_code": 200,
           "started_at": start + dt.timedelta(milliseconds=i), "finished_at": start,
           **index.columns()}
    return row, [{"run_id": run_id, "collection": "bench_items", "record_key": k}
                 for k in index.keys]


async def fill(store: StateStore, datasource_url: str, count: int) -> None:
    engine = sa.ext.asyncio.create_async_engine(datasource_url)
    async with engine.begin() as conn:
        await conn.run_sync(items.metadata.create_all)
        await conn.execute(items.insert(), [
            {"id": i, "status": ("live", "pending", "churned")[i % 3]}
            for i in range(1, RECORDS + 1)])
    await engine.dispose()
    rng = random.Random(7)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for offset in range(0, count, 5000):
        rows, listed = [], []
        for i in range(offset, min(offset + 5000, count)):
            row, extra = run_row(i, rng, start)
            rows.append(row)
            listed.extend(extra)
        async with store.write() as conn:
            await conn.execute(sa.insert(runs_table), rows)
            if listed:
                await conn.execute(sa.insert(run_records_table), listed)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def main(runs_count: int, samples: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        data_url = f"sqlite+aiosqlite:///{Path(directory) / 'data.db'}"
        store = StateStore(f"sqlite:///{Path(directory) / 'state.db'}")
        await store.start()
        began = time.perf_counter()
        await fill(store, data_url, runs_count)
        print(f"filled {runs_count:,} runs in {time.perf_counter() - began:.1f} s")
        datasource = Datasource(data_url, models=[items.metadata])
        await datasource.connect()
        permissions = PermissionsService(store)
        await permissions.put_role(RoleSpec("admin", is_admin=True, read_all=True))
        access = Access(Caller("u1", "bench@bench.example", role="admin"),
                        await permissions.snapshot(), dev_mode=False)
        activity = ActivityService(store, SelectionResolver(datasource))
        runs = RunsService(store)
        rng = random.Random(11)
        activity_times, list_times, found = [], [], 0
        for _ in range(samples):
            record = str(rng.randint(1, RECORDS))
            began = time.perf_counter()
            page = await activity.for_record("bench_items", record, access, limit=20)
            activity_times.append(time.perf_counter() - began)
            found += len(page["entries"])
            began = time.perf_counter()
            await runs.list(collection="bench_items", page_size=20)
            list_times.append(time.perf_counter() - began)
        await datasource.close()
        await store.close()
    a, b = median_ms(activity_times), median_ms(list_times)
    print(f"activity page (20 entries, {found / samples:.1f} found on average): "
          f"median {a:.2f} ms, p90 {statistics.quantiles(activity_times, n=10)[-1] * 1000:.2f} ms")
    print(f"runs page (baseline, RunsService.list): median {b:.2f} ms")
    print(f"ratio activity / runs page: {a / b:.2f}x (target <= 3x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="5,000 runs, 20 samples")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.samples = 5000, 20
    asyncio.run(main(args.runs, args.samples))
    sys.exit(0)
