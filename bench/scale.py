"""Scale: inbox and fan-out with one and with two processes on one PostgreSQL."""

from __future__ import annotations

from typing import Any

from bench import common, fanout
from bench.common import Result, Row
from bench.setup import inbox_spec, prepare
from bench.sizes import Size


async def inbox_rates(size: Size, processes: int, cpus: list[set[int] | None],
                      load_cpus: set[int] | None) -> list[dict[str, Any]]:
    setup = await prepare(f"scale{processes}", size)
    try:
        instances = await setup.start(processes, cpus=cpus)
        targets = [setup.inbox_target(instance) for instance in instances]
        runs = []
        for _ in range(size.repeats):
            spec = inbox_spec(setup, targets, count=size.inbox_requests, warmup=size.inbox_warmup,
                              connections=64)
            runs.append(await common.run_loadgen(spec, cpus=load_cpus))
        return runs
    finally:
        await setup.close()


async def run(size: Size, command: str) -> Result:
    result = Result("scale", "Scale with processes", size.name, command)
    usable = sorted(common.os.sched_getaffinity(0))
    server_cpus, load_cpus = common.cores()
    two = [{usable[0]}, {usable[-1]}]
    one_inbox = await inbox_rates(size, 1, [server_cpus], load_cpus)
    # With two server processes on a two-core machine, no core is left for the
    # load generator or PostgreSQL: they share the cores with the servers.
    two_inbox = await inbox_rates(size, 2, two, None)
    one_fan = await fanout.measure(size, 1, [server_cpus], load_cpus)
    two_fan = await fanout.measure(size, 2, two, None)
    one_label = "inbox accepted, 1 process, 64 conn"
    result.add(Row(one_label, "req/s", [r["rate"] for r in one_inbox], kind="limit"))
    result.add(Row("inbox accepted, 2 processes, 64 conn", "req/s", [r["rate"] for r in two_inbox],
                   limit=one_label))
    fan_label = f"fan-out to {size.hosts:,} hosts, 1 process"
    result.add(Row(fan_label, "deliveries/s", [r["rate"] for r in one_fan], kind="limit"))
    result.add(Row(f"fan-out to {size.hosts:,} hosts, 2 processes", "deliveries/s",
                   [r["rate"] for r in two_fan], limit=fan_label))
    result.curves["scale"] = {
        "x": [1, 2],
        "series": {
            "inbox accepted/s": [_median(one_inbox), _median(two_inbox)],
            "fan-out deliveries/s": [_median(one_fan), _median(two_fan)],
        },
        "xlabel": "pedagogue processes", "ylabel": "per second", "kind": "bar",
    }
    cores = len(usable)
    result.notes.append(
        "The processes are `pedagogue run` instances with the same URL and database, each "
        "with its HTTP server and workers; the load generator spreads its connections over "
        "them and the fan-out post goes to the first, while both delivery workers claim rows "
        f"from the shared queue. On this {cores}-core machine the single process is pinned to "
        "one core with the load generator and remote inboxes on the other; with two processes "
        "each is pinned to its own core and the load generator, remote inboxes and PostgreSQL "
        "share those cores, so the growth shown is what the machine leaves, not what separate "
        "machines sharing the database would give."
    )
    return result


def _median(runs: list[dict[str, Any]]) -> float:
    values = sorted(run["rate"] for run in runs)
    return values[len(values) // 2]
