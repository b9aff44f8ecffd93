-- Remote mentors in the directory, mentorship notifications, and the check of
-- a remote mentor's server software that runs outside the client request.

-- Remote teachers' mentoring offers are stored in mentor_profiles as read from
-- their actor documents. The free places of a local teacher are counted from
-- mentorships; those of a remote teacher are what their document reports.
ALTER TABLE mentor_profiles ADD COLUMN remote_free_places integer
    CHECK (remote_free_places BETWEEN 0 AND 100);
CREATE INDEX mentor_profiles_directory_idx ON mentor_profiles (updated_at DESC)
    WHERE open;

-- 'pending' while a worker still has to find out whether the remote mentor's
-- server reads Offer (from its NodeInfo), and so whether the request must also
-- go out as a direct message; 'done' afterwards. NULL for local mentors.
ALTER TABLE mentorships ADD COLUMN peer_check text
    CHECK (peer_check IN ('pending', 'done'));
CREATE INDEX mentorships_peer_check_idx ON mentorships (created_at)
    WHERE peer_check = 'pending';

-- A mentorship notification names its mentorship. A newer notification of
-- the same type from the same teacher replaces the older one (see
-- storage/mentorship.py notify), so the unique index on notifications stays
-- as it is.
ALTER TABLE notifications ADD COLUMN mentorship_id bigint
    REFERENCES mentorships ON DELETE CASCADE;
