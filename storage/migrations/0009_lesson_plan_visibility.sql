-- Lesson plan collections federate: each has an ActivityPub id, an audience
-- like a status's visibility, and remote teachers' collections are stored too.
-- Remote plan attachments may declare no size, so an unknown size is NULL.

ALTER TABLE lesson_plan_collections
    ADD COLUMN uri text,
    ADD COLUMN local boolean NOT NULL DEFAULT true,
    -- public, unlisted or private (followers only), as for statuses.
    ADD COLUMN visibility text NOT NULL DEFAULT 'public',
    ADD COLUMN updated_at timestamptz;
CREATE UNIQUE INDEX lesson_plan_collections_uri_idx
    ON lesson_plan_collections (uri) WHERE uri IS NOT NULL;
-- Remote teachers may name two collections alike; only local names are unique.
DROP INDEX lesson_plan_collections_name_idx;
CREATE UNIQUE INDEX lesson_plan_collections_name_idx
    ON lesson_plan_collections (account_id, lower(name)) WHERE local;

ALTER TABLE lesson_plan_attachments ALTER COLUMN size DROP NOT NULL;
