-- Lesson plans, their revisions, adaptations, attachments and collections.
-- Each plan is also a row in statuses (object_type 'Article', content a short
-- card), so it shows in timelines and in the Mastodon client API; the plan's
-- id and uri are the status's, and a deleted status is a deleted plan.

CREATE TABLE lesson_plans (
    status_id bigint PRIMARY KEY REFERENCES statuses ON DELETE CASCADE,
    uri text NOT NULL UNIQUE,
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    local boolean NOT NULL,
    title text NOT NULL,
    summary text NOT NULL DEFAULT '',
    -- Markdown source of local plans; NULL for remote ones.
    body_markdown text,
    body_html text NOT NULL DEFAULT '',
    subjects text[] NOT NULL DEFAULT '{}',
    grade_levels text[] NOT NULL DEFAULT '{}',
    -- Every grade a plan covers, as numbers (pre-K -1, K 0, 1..12, higher
    -- education 13, adult 14), so a search for grade 7 finds a 6-8 plan.
    grade_numbers integer[] NOT NULL DEFAULT '{}',
    age_min integer,
    age_max integer,
    duration_minutes integer,
    objectives text[] NOT NULL DEFAULT '{}',
    materials text[] NOT NULL DEFAULT '{}',
    -- [{"framework": "CCSS", "code": "6.RP.A.1"}, ...]
    alignments jsonb NOT NULL DEFAULT '[]',
    -- A key of actors.lesson_plan.LICENSES; NULL when a remote plan names none
    -- that Pedagogue knows.
    license text,
    based_on_uri text,
    -- Every plan this one derives from, nearest first:
    -- [{"uri": ..., "title": ..., "author_uri": ...}, ...]
    attribution jsonb NOT NULL DEFAULT '[]',
    search tsvector NOT NULL DEFAULT ''::tsvector,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz
);
CREATE INDEX lesson_plans_account_idx ON lesson_plans (account_id, status_id DESC);
CREATE INDEX lesson_plans_search_idx ON lesson_plans USING gin (search);
CREATE INDEX lesson_plans_grades_idx ON lesson_plans USING gin (grade_numbers);
CREATE INDEX lesson_plans_alignments_idx ON lesson_plans USING gin (alignments jsonb_path_ops);
CREATE INDEX lesson_plans_based_on_idx ON lesson_plans (based_on_uri)
    WHERE based_on_uri IS NOT NULL;

-- Earlier versions of a plan, written before each edit (local or received).
CREATE TABLE lesson_plan_revisions (
    id bigint PRIMARY KEY,
    status_id bigint NOT NULL REFERENCES lesson_plans ON DELETE CASCADE,
    -- The plan's fields as they were before the edit, in the API's shape.
    snapshot jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lesson_plan_revisions_plan_idx ON lesson_plan_revisions (status_id, id DESC);

-- Adaptations of plans, by uri on both sides, so an adaptation of a local plan
-- made on another instance is kept even before its author is fetched.
CREATE TABLE lesson_plan_adaptations (
    original_uri text NOT NULL,
    adaptation_uri text NOT NULL,
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (original_uri, adaptation_uri)
);

CREATE TABLE lesson_plan_attachments (
    id bigint PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    -- NULL until a plan uses the upload.
    status_id bigint REFERENCES lesson_plans ON DELETE CASCADE,
    file_name text NOT NULL,
    mime_type text NOT NULL,
    size integer NOT NULL,
    -- Set for files received with remote plans; local files are served by id.
    remote_url text,
    position integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lesson_plan_attachments_plan_idx ON lesson_plan_attachments (status_id);

CREATE TABLE lesson_plan_collections (
    id bigint PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX lesson_plan_collections_name_idx
    ON lesson_plan_collections (account_id, lower(name));

CREATE TABLE lesson_plan_collection_items (
    collection_id bigint NOT NULL REFERENCES lesson_plan_collections ON DELETE CASCADE,
    status_id bigint NOT NULL REFERENCES lesson_plans ON DELETE CASCADE,
    added_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (collection_id, status_id)
);

-- Per-teacher choices; a teacher with no row uses the instance's defaults.
CREATE TABLE lesson_plan_preferences (
    account_id bigint PRIMARY KEY REFERENCES accounts ON DELETE CASCADE,
    default_license text NOT NULL
);
