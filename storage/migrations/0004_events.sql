-- Events (webinars, online courses, conferences) and their participants.
-- Each event is also a statuses row (object_type 'Event'), so it shows in
-- timelines and in the Mastodon API; this table holds what a status lacks.

CREATE TABLE events (
    status_id bigint PRIMARY KEY REFERENCES statuses ON DELETE CASCADE,
    uri text NOT NULL UNIQUE,
    local boolean NOT NULL,
    -- The organiser; for an event attributed to a group, the person who made it.
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    group_account_id bigint REFERENCES accounts ON DELETE SET NULL,
    group_uri text,
    name text NOT NULL,
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    -- IANA name (Europe/Paris); times are shown in it, stored as instants.
    timezone text,
    online_url text,
    -- The Place: name, street, locality, postal code, region, country,
    -- latitude and longitude, whichever were given.
    place jsonb,
    capacity integer CHECK (capacity IS NULL OR capacity > 0),
    join_mode text NOT NULL DEFAULT 'free'
        CHECK (join_mode IN ('free', 'restricted', 'invite')),
    registration_open boolean NOT NULL DEFAULT true,
    status text NOT NULL DEFAULT 'CONFIRMED'
        CHECK (status IN ('CONFIRMED', 'TENTATIVE', 'CANCELLED')),
    -- For remote events, the count the organiser's server last reported.
    remote_participant_count integer,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz,
    CHECK (ends_at >= starts_at)
);
CREATE INDEX events_starts_idx ON events (starts_at);
CREATE INDEX events_account_idx ON events (account_id, starts_at);
CREATE INDEX events_group_idx ON events (group_account_id, starts_at)
    WHERE group_account_id IS NOT NULL;
CREATE INDEX events_name_idx ON events USING gin (to_tsvector('simple', name));

CREATE TABLE event_participants (
    id bigint PRIMARY KEY,
    event_id bigint NOT NULL REFERENCES events ON DELETE CASCADE,
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    -- The Join activity's id, which Accept, Reject and peers refer to.
    uri text UNIQUE,
    state text NOT NULL CHECK (state IN ('pending', 'accepted', 'rejected')),
    message text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz,
    reminded_at timestamptz,
    UNIQUE (event_id, account_id)
);
CREATE INDEX event_participants_account_idx ON event_participants (account_id);
CREATE INDEX event_participants_accepted_idx ON event_participants (event_id)
    WHERE state = 'accepted';
