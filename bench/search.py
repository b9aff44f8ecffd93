"""Lesson-plan search: the client API beside the same search SQL through bare asyncpg."""

from __future__ import annotations

import inspect
import random
from typing import Any
from urllib.parse import urlencode

import asyncpg

from actors.lesson_plan import parse_grade_level
from bench import common, data, plan_data
from bench.common import Result, Row
from bench.reads import bare
from bench.setup import prepare
from bench.sizes import Size
from storage import lesson_plans

API = "/api/pedagogue/v1/lesson_plans/search"
PAGE = 20
# The query mix, by kind. Text queries range from a word in most plans
# ("students") to a topic's phrase in a few hundred. The filters come alone and
# with text, and paging reads pages 2, 3 and 11 of common queries.
TEXT_QUERIES = (
    "fractions", "photosynthesis", "persuasive writing", "primary sources", "exit ticket",
    "students discussion", '"water cycle"', "climate or weather", "poetry -shakespeare",
    "debugging loops", "gallery walk", "misconceptions rubric",
)


def query_mix(corpus: plan_data.Corpus) -> dict[str, list[dict[str, Any]]]:
    """Return the search parameters of each kind of request."""
    math_codes = [item["code"] for item in corpus.codes["Mathematics"][:4]]
    science_codes = [item["code"] for item in corpus.codes["Science"][:4]]
    return {
        "text": [{"q": text} for text in TEXT_QUERIES],
        "subject filter": [
            {"subject": "Science"}, {"subject": "history"}, {"subject": "Music"},
            {"subject": "Mathematics", "q": "equations"}, {"subject": "Art", "q": "portraits"},
            {"subject": "English Language Arts", "grade_level": "7"},
            {"grade_level": "3", "license": "CC-BY-SA-4.0"},
        ],
        "standard filter": [{"standard": code} for code in math_codes + science_codes]
        + [{"standard": math_codes[0], "q": "students"}],
        "paging": [{"q": "students", "offset": 20}, {"q": "discussion", "offset": 40},
                   {"subject": "Science", "offset": 200}, {"q": "fractions", "offset": 20}],
    }


def search_arguments(params: dict[str, Any], viewer_id: int) -> dict[str, Any]:
    """Map API parameters to ``storage.lesson_plans.search``'s, as the endpoint
    does for the signed-in ``viewer_id``."""
    grade = parse_grade_level(params["grade_level"])[1][0] if "grade_level" in params else None
    arguments = {
        "text": params.get("q"), "subject": params.get("subject"), "grade": grade,
        "standard": params.get("standard"), "license_key": params.get("license"),
        "limit": PAGE, "offset": params.get("offset", 0),
    }
    # Searches by a signed-in teacher also find the non-public plans she may
    # read, where the storage layer supports it.
    if "viewer_id" in inspect.signature(lesson_plans.search).parameters:
        arguments["viewer_id"] = viewer_id
    return arguments


def _spec(urls: list[str], headers: dict[str, str], count: int, connections: int) -> dict[str, Any]:
    return {"mode": "get", "urls": urls, "headers": headers, "count": count,
            "warmup": min(100, count // 5), "connections": connections}


async def run(size: Size, command: str) -> Result:
    result = Result("search", "Lesson-plan search", size.name, command)
    server_cpus, load_cpus = common.cores()
    setup = await prepare("search", size, actors=size.accounts - 1, follow_remote=False,
                          keys=data.generate_keys(1))
    rng = random.Random(17)
    runs: dict[str, list[dict[str, float]]] = {}
    try:
        remote = [(account_id, actor.actor_id)
                  for account_id, actor in zip(setup.remote_ids, setup.actors)]
        # She follows some of the authors, so their followers-only plans are
        # hers to find too.
        connection = await asyncpg.connect(setup.dsn)
        try:
            await data.follow_all(connection, [setup.teacher_id],
                                  setup.remote_ids[: size.followed], first_id=4 * 10**15)
        finally:
            await connection.close()
        corpus, load_seconds = await plan_data.load_plans(
            setup.dsn, count=size.plans, remote_authors=remote,
            local_author=(setup.teacher_id, setup.teacher_actor), base_url=setup.url,
        )
        mix = query_mix(corpus)
        everything = [params for kind in mix.values() for params in kind]
        (instance,) = await setup.start(1, cpus=[server_cpus])

        def urls(queries: list[dict[str, Any]]) -> list[str]:
            return [f"{instance.address}{API}?{urlencode({**params, 'limit': PAGE})}"
                    for params in queries]

        def bare_search(queries: list[dict[str, Any]]) -> Any:
            async def query(connection: asyncpg.Connection) -> None:
                await lesson_plans.search(
                    connection, **search_arguments(rng.choice(queries), setup.teacher_id))
            return query

        before = common.os.sched_getaffinity(0)
        per_kind = max(25, size.search_requests // 4)
        # One pass at every size: the text queries that match most plans take
        # a second or more each, so repeats would take tens of minutes.
        for connections, key in ((1, "mix1"), (16, "mix16")):
            runs.setdefault(key, []).append(await common.run_loadgen(
                _spec(urls(everything), setup.auth(), size.search_requests, connections),
                cpus=load_cpus))
        for kind, queries in mix.items():
            runs.setdefault(kind, []).append(await common.run_loadgen(
                _spec(urls(queries), setup.auth(), per_kind, 1), cpus=load_cpus))
        # The bare queries run from this process on the server's core.
        common.os.sched_setaffinity(0, server_cpus)
        try:
            runs.setdefault("bare_mix1", []).append(
                await bare(setup.dsn, size.search_requests, 1, bare_search(everything)))
            runs.setdefault("bare_mix16", []).append(
                await bare(setup.dsn, size.search_requests, 16, bare_search(everything)))
            for kind, queries in mix.items():
                runs.setdefault(f"bare_{kind}", []).append(
                    await bare(setup.dsn, per_kind, 1, bare_search(queries)))
        finally:
            common.os.sched_setaffinity(0, before)
        for key in ("mix1", "mix16", *mix):
            for outcome in runs[key]:
                if outcome["ok"] != outcome["requests"]:
                    result.notes.append(f"{key}: {outcome['requests'] - outcome['ok']} requests "
                                        f"failed: {outcome['statuses']} {outcome['errors']}")
        counts = await _match_counts(setup.dsn, mix)
    finally:
        await setup.close()

    def values(key: str, field: str) -> list[float]:
        return [outcome[field] for outcome in runs[key]]

    bare_p50, bare_p99 = "bare search query p50, 1 conn", "bare search query p99, 1 conn"
    result.add(Row(bare_p50, "ms", values("bare_mix1", "p50_ms"), kind="limit",
                   higher_is_better=False))
    result.add(Row(bare_p99, "ms", values("bare_mix1", "p99_ms"), kind="limit",
                   higher_is_better=False))
    result.add(Row("search p50, 1 conn", "ms", values("mix1", "p50_ms"), limit=bare_p50,
                   higher_is_better=False))
    result.add(Row("search p99, 1 conn", "ms", values("mix1", "p99_ms"), limit=bare_p99,
                   higher_is_better=False))
    bare16 = "bare search query, 16 conn"
    result.add(Row(bare16, "req/s", values("bare_mix16", "rate"), kind="limit"))
    result.add(Row("search, 16 conn", "req/s", values("mix16", "rate"), limit=bare16))
    result.add(Row("search p99, 16 conn", "ms", values("mix16", "p99_ms"), higher_is_better=False))
    for kind in mix:
        limit = f"bare p99, {kind}"
        result.add(Row(limit, "ms", values(f"bare_{kind}", "p99_ms"), kind="limit",
                       higher_is_better=False))
        result.add(Row(f"search p99, {kind}", "ms", values(kind, "p99_ms"), limit=limit,
                       higher_is_better=False))
    p99 = sorted(values("mix1", "p99_ms"))[len(runs["mix1"]) // 2]
    bare99 = sorted(values("bare_mix1", "p99_ms"))[len(runs["bare_mix1"]) // 2]
    result.target(f"lesson-plan search p99 over {size.plans:,} plans at most three times the "
                  "bare query's (the timeline's bound)", p99 / bare99, 3.0, at_most=True,
                  unit="x bare")
    result.extra["dataset"] = {"plans": size.plans, "accounts": size.accounts,
                               "load_seconds": round(load_seconds, 1), "matches": counts}
    result.extra["queries"] = mix
    result.notes.append(
        f"Dataset: {size.plans:,} lesson plans by {size.accounts:,} accounts (one in 20 local; "
        f"17 in 20 public, the rest unlisted or followers-only), over {len(plan_data.SUBJECTS)} "
        f"subjects, {sum(len(topics) for _, _, topics in plan_data.SUBJECTS.values())} topics "
        "and about 40 standards codes per subject, each with a title, summary, objectives and a "
        f"body of about 1 KB, bulk-loaded with COPY in {load_seconds:.0f} s. "
        f"Every request asks for a page of {PAGE}, authenticated as the local teacher; the mix "
        f"has {sum(len(kind) for kind in mix.values())} queries: text, subject, grade and "
        "licence filters, standards codes and later pages."
    )
    result.notes.append(
        "The bare rows call storage.lesson_plans.search, the SQL the endpoint runs, on a bare "
        "asyncpg connection from a process on the server's core, without HTTP or rendering. "
        "The API also renders each plan with its author, attachments and adaptation count."
    )
    return result


async def _match_counts(dsn: str, mix: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    """Return how many public plans match each text query, for the notes."""
    connection = await asyncpg.connect(dsn)
    try:
        counts = {}
        for params in mix["text"]:
            counts[params["q"]] = await connection.fetchval(
                "SELECT count(*) FROM lesson_plans WHERE"
                " search @@ websearch_to_tsquery('english', $1)", params["q"])
        return counts
    finally:
        await connection.close()
