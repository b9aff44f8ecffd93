"""The schema.org context bundled for lesson plans, and the LRMI terms of a
rendered Article read back through JSON-LD expansion."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from actors.lesson_plan import PLAN_CONTEXT, read_lrmi, render_article
from federation.jsonld import expand
from pedagogue.config import ConfigError, load_settings

AS = "https://www.w3.org/ns/activitystreams"


@pytest.mark.parametrize(
    "url",
    [
        "https://schema.org/",
        "https://schema.org",
        "http://schema.org",
        "http://schema.org/",
    ],
)
def test_schema_org_context_spellings_expand_offline(url: str) -> None:
    document = {"@context": [AS, url], "id": "https://a.test/1", "teaches": "Ratios"}
    node = expand(document)[0]
    assert node["http://schema.org/teaches"] == [{"@value": "Ratios"}]


def test_rendered_article_reads_back() -> None:
    now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    plan = {
        "uri": "https://school-a.test/lesson_plans/7",
        "title": "Ratios",
        "summary": "Scaling recipes.",
        "body_html": "<p>Body</p>",
        "body_markdown": "Body",
        "created_at": now,
        "updated_at": None,
        "subjects": ["Mathematics"],
        "grade_levels": ["6-8"],
        "objectives": ["Use ratio language"],
        "materials": ["Recipe cards"],
        "alignments": [{"framework": "CCSS", "code": "6.RP.A.1"}],
        "age_min": 11,
        "age_max": 14,
        "duration_minutes": 90,
        "license": "all-rights-reserved",
        "attribution": [
            {
                "uri": "https://b.test/p/1",
                "title": "Old",
                "author_uri": "https://b.test/u",
            }
        ],
    }
    status = {"url": None, "to_uris": [f"{AS}#Public"], "cc_uris": []}
    article = render_article(
        plan, status, actor_id="https://school-a.test/users/alice", attachments=[]
    )
    node = expand({"@context": PLAN_CONTEXT, **article})[0]
    read = read_lrmi(node)
    assert read.rejected == []
    assert read.subjects == ["Mathematics"]
    assert read.grade_levels == ["6-8"]
    assert read.objectives == ["Use ratio language"]
    assert read.materials == ["Recipe cards"]
    assert read.alignments == [{"framework": "CCSS", "code": "6.RP.A.1"}]
    assert read.age_range == (11, 14)
    assert read.duration_minutes == 90
    assert read.license == "all-rights-reserved"
    assert read.attribution == plan["attribution"]


def test_unknown_default_license_setting_rejected() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(
            None, overrides={"lesson_plans": {"default_license": "GPL-3.0"}}, environ={}
        )
    assert "lesson_plans.default_license" in str(raised.value)
