"""Benchmark lesson plans: a generated corpus, bulk-loaded with COPY.

The plans read like a district's shared library: each belongs to a subject and
a topic, and its title, summary, objectives and body repeat the topic's terms
among general classroom vocabulary. Common words ("students", "discussion")
match most of the plans and a topic's words about one in a hundred, so
full-text ranking has realistic work to do.
"""

from __future__ import annotations

import asyncio
import html
import json
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from actors.lesson_plan import LICENSES, parse_alignment, parse_grade_level
from bench.data import PUBLIC
from storage.lesson_plans import _SEARCH_VECTOR

# subject: (standards framework, code patterns, topics). A code pattern's
# fields are filled with the plan's grade, a number and a letter.
SUBJECTS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "Mathematics": ("CCSS", ("{g}.NS.A.{n}", "{g}.RP.A.{n}", "{g}.EE.B.{n}", "{g}.G.A.{n}",
                             "{g}.SP.B.{n}", "{g}.NF.B.{n}"), (
        "equivalent fractions", "ratios and proportional reasoning", "linear equations",
        "area and perimeter", "probability", "place value", "negative numbers",
        "simultaneous equations", "the Pythagorean theorem", "statistics and data displays",
        "angles in polygons", "percentages and discounts")),
    "Science": ("NGSS", ("MS-LS{a}-{n}", "MS-PS{a}-{n}", "MS-ESS{a}-{n}", "HS-LS{a}-{n}",
                         "HS-PS{a}-{n}"), (
        "photosynthesis", "the water cycle", "plate tectonics and earthquakes",
        "chemical reactions", "forces and motion", "ecosystems and food webs",
        "cells and microscopes", "electric circuits", "weather and climate", "genetics and heredity",
        "the solar system", "states of matter")),
    "English Language Arts": ("CCSS", ("RL.{g}.{n}", "RI.{g}.{n}", "W.{g}.{n}", "SL.{g}.{n}",
                                       "L.{g}.{n}"), (
        "persuasive writing", "poetry and figurative language", "character analysis",
        "narrative writing", "reading informational texts", "Shakespeare's Macbeth",
        "argument and evidence", "vocabulary in context", "book clubs", "grammar and punctuation")),
    "History": ("C3", ("D2.His.{n}.6-8", "D2.His.{n}.9-12", "D2.Civ.{n}.6-8", "D2.Geo.{n}.9-12"), (
        "primary sources", "the industrial revolution", "the civil rights movement",
        "ancient Rome", "the First World War", "local history and oral histories",
        "the constitution and democracy", "migration and empire", "the cold war")),
    "Computer Science": ("CSTA", ("{b}-AP-{n}", "{b}-CS-{n}", "{b}-DA-{n}", "{b}-NI-{n}"), (
        "algorithms and flowcharts", "loops and conditionals", "debugging", "data privacy",
        "networks and the internet", "spreadsheets and data", "block programming with Scratch")),
    "Art": ("NCAS", ("VA.Cr{a}.1.{g}", "VA.Re{a}.1.{g}", "VA.Pr{a}.1.{g}"), (
        "colour theory", "observational drawing", "printmaking", "portraits", "clay and sculpture",
        "art criticism")),
    "Music": ("NCAS", ("MU.Cr{a}.1.{g}", "MU.Pr{a}.1.{g}", "MU.Re{a}.1.{g}"), (
        "rhythm and notation", "composing melodies", "world music", "singing in parts",
        "listening and appraising")),
    "Physical Education": ("SHAPE", ("S{a}.M{n}.{g}",), (
        "invasion games", "fitness circuits", "gymnastics sequences", "athletics and sprinting",
        "teamwork and fair play")),
    "Modern Languages": ("ACTFL", ("ACTFL.{a}.{n}.{g}",), (
        "French greetings and introductions", "Spanish past tense", "describing family in German",
        "ordering food in Spanish", "reading authentic texts")),
}
METHODS = (
    "a card sort", "a jigsaw activity", "think-pair-share", "a gallery walk", "station rotation",
    "a Socratic seminar", "a hands-on investigation", "worked examples", "a debate",
    "retrieval practice", "a role play", "a problem-solving challenge", "an escape room",
    "a field trip follow-up", "peer assessment",
)
TITLE_FORMS = (
    "{Topic} through {method}", "Introducing {topic}", "{Topic}: {method}",
    "Exploring {topic} with {method}", "{Topic} for mixed-ability groups",
    "Revision lesson: {topic}", "{Topic} in the real world",
)
SUMMARY_FORMS = (
    ("Students explore {topic} using {method}, then check their understanding with a short "
     "exit ticket."),
    ("A {minutes}-minute lesson on {topic} that moves from a hook question to {method} and a "
     "whole-class discussion."),
    ("Builds on prior knowledge of {topic}; includes scaffolds for English learners and an "
     "extension task."),
    "Uses {method} so that every student talks about {topic} before writing independently.",
)
OBJECTIVE_FORMS = (
    "Explain the key ideas of {topic} in their own words",
    "Apply {topic} to an unfamiliar problem",
    "Compare two approaches to {topic} and justify a choice",
    "Use subject vocabulary for {topic} accurately",
)
MATERIALS = (
    "mini whiteboards", "sticky notes", "printed card sets", "graphic organiser",
    "projector", "timer", "chart paper", "laptops or tablets", "exit ticket slips",
    "manipulatives", "textbook", "rubric",
)
SENTENCES = (
    "Open with a hook question on the board and ask students to write a first answer.",
    "Model the first example aloud, naming each step as you go.",
    "Students work in pairs and record their reasoning on mini whiteboards.",
    "Circulate and listen for misconceptions; note two to address with the whole class.",
    "Give struggling students the sentence starters and a partially completed example.",
    "Early finishers move on to the extension task, which asks them to write their own question.",
    "Bring the class together for a discussion and collect three contrasting answers.",
    "Close with an exit ticket of three questions and sort the responses before the next lesson.",
    "Differentiate by grouping students by readiness rather than by ability label.",
    "Link the task to students' own experience so that the vocabulary sticks.",
    "Allow time for students to revise their first answer after the discussion.",
    "Use cold calling with wait time so that every student prepares an answer.",
)
TOPIC_SENTENCES = (
    "Today's focus is {topic}: students should leave able to explain it to a partner.",
    "Set up {method} so that each group meets a different aspect of {topic}.",
    "Common misconceptions about {topic} come up here, so plan a question that exposes them.",
    "Connect {topic} to the previous unit before introducing new vocabulary.",
    "Assessment: a short written task on {topic}, marked with the rubric.",
)
GRADE_BANDS = ("K-2", "3-5", "6-8", "9-12", "K", "1", "2", "3", "4", "5", "6", "7", "8", "9",
               "10", "11", "12")
# Weights of the licence keys, the most used first.
LICENSE_WEIGHTS = {key: weight for key, weight in zip(LICENSES, (5, 3, 3, 2, 1, 1, 1, 1))}
# Of every 20 plans, 17 are public, 2 unlisted and 1 followers-only.
VISIBILITIES = ("public",) * 17 + ("unlisted",) * 2 + ("private",)


@dataclass(frozen=True)
class Corpus:
    """The standards codes used by the generated plans, by subject."""

    codes: dict[str, list[dict[str, str]]]


def _codes(rng: random.Random) -> dict[str, list[dict[str, str]]]:
    """Return up to 40 valid standards codes per subject."""
    codes: dict[str, list[dict[str, str]]] = {}
    for subject, (framework, patterns, _) in SUBJECTS.items():
        chosen: dict[str, dict[str, str]] = {}
        for _ in range(400):
            if len(chosen) == 40:
                break
            pattern = rng.choice(patterns)
            code = pattern.format(g=rng.randint(3, 8), n=rng.randint(1, 9), a=rng.randint(1, 4),
                                  b=rng.choice(("1A", "1B", "2", "3A")))
            chosen[code] = parse_alignment({"framework": framework, "code": code})
        codes[subject] = list(chosen.values())
    return codes


def _plan(rng: random.Random, corpus: Corpus, subject: str) -> dict[str, Any]:
    """Return the fields of one generated plan."""
    _, _, topics = SUBJECTS[subject]
    topic = rng.choice(topics)
    method = rng.choice(METHODS)
    minutes = rng.choice((30, 45, 50, 60, 90))
    words = {"topic": topic, "Topic": topic[0].upper() + topic[1:], "method": method,
             "minutes": minutes}
    title = rng.choice(TITLE_FORMS).format(**words)
    summary = rng.choice(SUMMARY_FORMS).format(**words)
    objectives = [form.format(**words) for form in rng.sample(OBJECTIVE_FORMS, 2)]
    paragraphs = []
    for heading in ("Warm-up", "Main activity", "Plenary"):
        sentences = rng.sample(SENTENCES, 3) + [rng.choice(TOPIC_SENTENCES).format(**words)]
        rng.shuffle(sentences)
        paragraphs.append(f"<h2>{heading}</h2><p>{html.escape(' '.join(sentences))}</p>")
    band = rng.choice(GRADE_BANDS)
    grade_level, numbers = parse_grade_level(band)
    alignments = rng.sample(corpus.codes[subject], rng.randint(1, 3))
    subjects = [subject]
    if rng.random() < 0.15:
        subjects.append(rng.choice([name for name in SUBJECTS if name != subject]))
    return {
        "title": title,
        "summary": summary,
        "body_html": "".join(paragraphs),
        "subjects": subjects,
        "grade_levels": [grade_level],
        "grade_numbers": numbers,
        "duration_minutes": minutes,
        "objectives": objectives,
        "materials": rng.sample(MATERIALS, 3),
        "alignments": alignments,
        "license": rng.choices(list(LICENSE_WEIGHTS), list(LICENSE_WEIGHTS.values()))[0],
    }


def _card(title: str, summary: str, url: str) -> str:
    link = html.escape(url, quote=True)
    return (f"<p><strong>{html.escape(title)}</strong></p><p>{html.escape(summary)}</p>"
            f'<p><a href="{link}">{link}</a></p>')


async def _copy_chunk(dsn: str, records: list[tuple[Any, ...]], plans: list[tuple[Any, ...]]) -> None:
    """COPY one chunk of statuses and plans, computing the plans' search vectors
    with the expression the application stores."""
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            await connection.copy_records_to_table(
                "statuses", columns=["id", "uri", "url", "account_id", "local", "object_type",
                                     "name", "content", "visibility", "to_uris", "cc_uris",
                                     "created_at"], records=records,
            )
            await connection.execute(
                "CREATE TEMPORARY TABLE bench_plans (LIKE lesson_plans INCLUDING DEFAULTS)"
                " ON COMMIT DROP"
            )
            await connection.copy_records_to_table(
                "bench_plans", columns=["status_id", "uri", "account_id", "local", "title",
                                        "summary", "body_html", "subjects", "grade_levels",
                                        "grade_numbers", "duration_minutes", "objectives",
                                        "materials", "alignments", "license", "created_at"],
                records=plans,
            )
            await connection.execute(
                "INSERT INTO lesson_plans SELECT status_id, uri, account_id, local, title,"
                " summary, body_markdown, body_html, subjects, grade_levels, grade_numbers,"
                " age_min, age_max, duration_minutes, objectives, materials, alignments,"
                f" license, based_on_uri, attribution, {_SEARCH_VECTOR}, created_at, updated_at"
                " FROM bench_plans"
            )
    finally:
        await connection.close()


async def load_plans(dsn: str, *, count: int, remote_authors: list[tuple[int, str]],
                     local_author: tuple[int, str], base_url: str,
                     chunk: int = 10_000) -> tuple[Corpus, float]:
    """Generate and COPY ``count`` plans, one in 20 by ``local_author`` and the
    others by ``remote_authors`` in turn, each given as (account id, actor id).
    Return the corpus and the seconds the load took.

    Chunks load over two connections at a time, so that PostgreSQL computes the
    search vectors on two cores while this process generates the next chunk.
    """
    began = time.perf_counter()
    rng = random.Random(23)
    corpus = Corpus(_codes(rng))
    subjects = list(SUBJECTS)
    # Two years of plans, the oldest first; ids follow the status id scheme
    # (milliseconds shifted left by 16 bits).
    start_ms = int((time.time() - 86400 * 730) * 1000)
    step_ms = max(1, 86400 * 730 * 1000 // max(1, count))
    pending: set[asyncio.Task[None]] = set()
    for first in range(0, count, chunk):
        records = []
        plan_rows = []
        for number in range(first, min(count, first + chunk)):
            fields = _plan(rng, corpus, subjects[number % len(subjects)])
            created_ms = start_ms + number * step_ms
            status_id = created_ms << 16 | number & 0xFFFF
            created = datetime.fromtimestamp(created_ms / 1000, UTC)
            local = number % 20 == 0
            if local:
                author, actor_id = local_author
                uri = f"{base_url}/lesson_plans/{status_id}"
            else:
                author, actor_id = remote_authors[number % len(remote_authors)]
                uri = f"{actor_id}/plans/{status_id}"
            visibility = VISIBILITIES[number % len(VISIBILITIES)]
            followers = f"{actor_id}/followers"
            to_uris = [PUBLIC] if visibility == "public" else [followers]
            cc_uris = {"public": [followers], "unlisted": [PUBLIC]}.get(visibility, [])
            records.append((status_id, uri, uri, author, local, "Article", fields["title"],
                            _card(fields["title"], fields["summary"], uri), visibility,
                            to_uris, cc_uris, created))
            plan_rows.append((status_id, uri, author, local, fields["title"], fields["summary"],
                              fields["body_html"], fields["subjects"], fields["grade_levels"],
                              fields["grade_numbers"], fields["duration_minutes"],
                              fields["objectives"], fields["materials"],
                              json.dumps(fields["alignments"]), fields["license"], created))
        if len(pending) >= 2:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        pending.add(asyncio.create_task(_copy_chunk(dsn, records, plan_rows)))
    for task in pending:
        await task
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("VACUUM ANALYZE lesson_plans")
        await connection.execute("VACUUM ANALYZE statuses")
    finally:
        await connection.close()
    return corpus, time.perf_counter() - began
