-- When a remote account's outbox was last fetched for its profile page, so
-- that viewing the profile again fetches it at most once per interval
-- (inbox/remote_outbox.py REFETCH_INTERVAL). A failed fetch counts too, so an
-- unreachable server is not asked again on every page view.
ALTER TABLE accounts ADD COLUMN outbox_fetched_at timestamptz;
