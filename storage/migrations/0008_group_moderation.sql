-- Group moderation (FEP-1b12): members a moderator removed, the moderators of
-- remote groups as their attributedTo collection lists them, and the group a
-- notification concerns.

-- Accounts a moderator removed from a local group. Their Follow of the group
-- is rejected and their posts are not announced until a moderator lets them
-- back in.
CREATE TABLE group_removed_members (
    group_id bigint NOT NULL REFERENCES group_profiles ON DELETE CASCADE,
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    removed_by bigint REFERENCES accounts ON DELETE SET NULL,
    removed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, account_id)
);

-- Moderators of a remote group, in the order of its moderators collection.
-- The list is replaced whenever the collection is fetched again.
CREATE TABLE remote_group_moderators (
    group_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    position integer NOT NULL,
    PRIMARY KEY (group_id, account_id)
);

-- A join request notifies each moderator of the group; group_id says which
-- group, because the requester is the notification's from_account_id.
ALTER TABLE notifications
    ADD COLUMN group_id bigint REFERENCES accounts ON DELETE CASCADE;
DROP INDEX notifications_once_idx;
CREATE UNIQUE INDEX notifications_once_idx ON notifications
    (account_id, type, from_account_id, coalesce(status_id, 0), coalesce(group_id, 0));
