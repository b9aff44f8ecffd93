-- Groups (FEP-1b12): each group is an accounts row with actor_type 'Group', so
-- WebFinger, keys, signing, follows and delivery work as for teachers. These
-- tables hold what an account lacks. The group's accepted followers are its
-- members; accounts.manually_approves_followers is its approval flag and
-- accounts.summary the HTML form of its description.

CREATE TABLE group_profiles (
    account_id bigint PRIMARY KEY REFERENCES accounts ON DELETE CASCADE,
    description text NOT NULL DEFAULT '',
    rules text NOT NULL DEFAULT '',
    subjects text[] NOT NULL DEFAULT '{}',
    grade_levels text[] NOT NULL DEFAULT '{}',
    created_by bigint REFERENCES accounts ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX group_profiles_subjects_idx ON group_profiles USING gin (subjects);

-- Local teachers who moderate a local group.
CREATE TABLE group_moderators (
    group_id bigint NOT NULL REFERENCES group_profiles ON DELETE CASCADE,
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    role text NOT NULL CHECK (role IN ('owner', 'moderator')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, account_id)
);
CREATE INDEX group_moderators_account_idx ON group_moderators (account_id);

-- Posts a local group announced; announce_status_id is the group's boost row,
-- whose uri is the Announce activity, so a removal can undo it.
CREATE TABLE group_posts (
    group_id bigint NOT NULL REFERENCES group_profiles ON DELETE CASCADE,
    status_id bigint NOT NULL REFERENCES statuses ON DELETE CASCADE,
    announce_status_id bigint REFERENCES statuses ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    removed_at timestamptz,
    removed_by bigint REFERENCES accounts ON DELETE SET NULL,
    PRIMARY KEY (group_id, status_id)
);
CREATE INDEX group_posts_listing_idx ON group_posts (group_id, status_id DESC)
    WHERE removed_at IS NULL;
