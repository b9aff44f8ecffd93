-- Mentorship: teachers open to mentoring, and the mentorships offered between
-- a mentee and a mentor on this or another instance.

CREATE TABLE mentor_profiles (
    account_id bigint PRIMARY KEY REFERENCES accounts ON DELETE CASCADE,
    open boolean NOT NULL DEFAULT true,
    subjects text[] NOT NULL DEFAULT '{}',
    grade_levels text[] NOT NULL DEFAULT '{}',
    capacity integer NOT NULL CHECK (capacity BETWEEN 0 AND 100),
    note text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mentor_profiles_subjects_idx ON mentor_profiles USING gin (subjects)
    WHERE open;
CREATE INDEX mentor_profiles_grade_levels_idx
    ON mentor_profiles USING gin (grade_levels) WHERE open;

-- One row per Offer. Both instances of a pair keep their own row under the
-- same uri (the Mentorship object's id, minted by the mentee's instance).
CREATE TABLE mentorships (
    id bigint PRIMARY KEY,
    uri text NOT NULL UNIQUE,
    offer_uri text NOT NULL UNIQUE,
    mentor_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    mentee_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    state text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'accepted', 'rejected', 'withdrawn')),
    message text NOT NULL DEFAULT '',
    subjects text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    answered_at timestamptz,
    CHECK (mentor_id <> mentee_id)
);
-- A pair has at most one pending or running mentorship at a time.
CREATE UNIQUE INDEX mentorships_live_pair_idx ON mentorships (mentor_id, mentee_id)
    WHERE state IN ('pending', 'accepted');
CREATE INDEX mentorships_mentor_idx ON mentorships (mentor_id, state);
CREATE INDEX mentorships_mentee_idx ON mentorships (mentee_id, state);

-- The software a peer host runs, read from its NodeInfo (e.g. 'mastodon'),
-- so that mentorship requests to hosts that do not read Offer also go out as
-- direct messages.
ALTER TABLE hosts ADD COLUMN software text;
ALTER TABLE hosts ADD COLUMN software_checked_at timestamptz;
