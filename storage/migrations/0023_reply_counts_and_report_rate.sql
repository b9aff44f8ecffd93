-- replies_count counts only public and unlisted replies, because the count is
-- shown to every reader of the parent (storage.statuses.count_reply). Recount
-- the stored counters, which included followers-only and direct replies.
UPDATE statuses AS parent
SET replies_count = counted.replies
FROM (
    SELECT p.id, count(r.id) FILTER (
        WHERE r.deleted_at IS NULL AND r.visibility IN ('public', 'unlisted')
    ) AS replies
    FROM statuses p
    JOIN statuses r ON r.in_reply_to_id = p.id
    GROUP BY p.id
) AS counted
WHERE parent.id = counted.id AND parent.replies_count <> counted.replies;

-- The inbox counts the reports each remote actor sent in the last hour
-- (inbox/handlers/flag.py) before it stores another.
CREATE INDEX reports_account_created_idx ON reports (account_id, created_at);
