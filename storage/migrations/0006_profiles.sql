-- Teacher profiles (profile fields, images, subjects, grade levels, school,
-- role, pronouns) and followed hashtags and standard codes.

ALTER TABLE accounts
    -- [{"name", "value" (sanitised HTML), "source" (local only), "verified_at"}]
    ADD COLUMN fields jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN header_url text,
    ADD COLUMN subjects text[] NOT NULL DEFAULT '{}',
    ADD COLUMN grade_levels text[] NOT NULL DEFAULT '{}',
    ADD COLUMN school text NOT NULL DEFAULT '',
    ADD COLUMN teacher_role text NOT NULL DEFAULT '',
    ADD COLUMN pronouns text NOT NULL DEFAULT '';

-- kind 'hashtag' names are lower-case hashtags without '#'; kind 'standard'
-- names are standard codes as written by the framework (e.g. CCSS.MATH.6.RP.A.1).
CREATE TABLE tag_follows (
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    kind text NOT NULL DEFAULT 'hashtag' CHECK (kind IN ('hashtag', 'standard')),
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, kind, name)
);
CREATE INDEX tag_follows_name_idx ON tag_follows (kind, name);

-- Following a standard code: a new public lesson plan aligned to a followed
-- code (local or received) enters the follower's home feed. The plan's
-- alignments are written to lesson_plans after its status row is distributed,
-- so the fan-out runs when that row is inserted. A followed name matches an
-- alignment's code alone ("6.RP.A.1") or with its framework ("CCSS.6.RP.A.1"),
-- ignoring case.
CREATE FUNCTION lesson_plan_to_standard_followers() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO home_feed (account_id, status_id)
    SELECT DISTINCT f.account_id, NEW.status_id
    FROM jsonb_array_elements(NEW.alignments) AS a(item)
    JOIN tag_follows f ON f.kind = 'standard'
        AND (lower(f.name) = lower(a.item->>'code')
             OR lower(f.name) = lower((a.item->>'framework') || '.' || (a.item->>'code')))
    JOIN accounts follower ON follower.id = f.account_id AND follower.domain IS NULL
    WHERE jsonb_typeof(NEW.alignments) = 'array'
        AND EXISTS (SELECT 1 FROM statuses s WHERE s.id = NEW.status_id
                    AND s.visibility = 'public' AND s.deleted_at IS NULL)
    ON CONFLICT DO NOTHING;
    RETURN NEW;
END
$$;

CREATE TRIGGER lesson_plans_standard_followers
    AFTER INSERT ON lesson_plans
    FOR EACH ROW EXECUTE FUNCTION lesson_plan_to_standard_followers();
