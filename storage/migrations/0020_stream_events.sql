-- Events of the streaming API, published with NOTIFY on the channel
-- pedagogue_stream. Triggers publish them wherever a row is written, so the
-- inbox worker, the outbox and the web process all reach the process that
-- holds a subscriber's connection. PostgreSQL delivers a notification when
-- the writing transaction commits, and drops it on rollback.
--
-- A payload is "kind:id" or "kind:id:account_id", far below NOTIFY's limit
-- of 8000 bytes. The streaming process loads the row and checks each
-- subscriber's right to read it (storage/stream_events.py).

CREATE FUNCTION stream_publish_status() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- A tombstone stored for a Delete that came before its Create is no post.
        IF NEW.deleted_at IS NULL THEN
            PERFORM pg_notify('pedagogue_stream', 'update:' || NEW.id);
        END IF;
    ELSIF NEW.deleted_at IS NOT NULL AND OLD.deleted_at IS NULL THEN
        PERFORM pg_notify('pedagogue_stream', 'delete:' || NEW.id);
    ELSIF NEW.deleted_at IS NULL AND NEW.edited_at IS DISTINCT FROM OLD.edited_at THEN
        PERFORM pg_notify('pedagogue_stream', 'status.update:' || NEW.id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER statuses_stream_insert AFTER INSERT ON statuses
    FOR EACH ROW EXECUTE FUNCTION stream_publish_status();
CREATE TRIGGER statuses_stream_update AFTER UPDATE OF deleted_at, edited_at ON statuses
    FOR EACH ROW EXECUTE FUNCTION stream_publish_status();

-- One event per status added to home feeds, however many feeds got it: the
-- streaming process asks which of its subscribers' feeds contain the status.
CREATE FUNCTION stream_publish_home() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('pedagogue_stream', 'home:' || added.status_id)
        FROM (SELECT DISTINCT status_id FROM new_rows) AS added;
    RETURN NULL;
END
$$;

CREATE TRIGGER home_feed_stream AFTER INSERT ON home_feed
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stream_publish_home();

CREATE FUNCTION stream_publish_notification() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('pedagogue_stream',
        'notification:' || NEW.id || ':' || NEW.account_id);
    RETURN NULL;
END
$$;

CREATE TRIGGER notifications_stream AFTER INSERT ON notifications
    FOR EACH ROW EXECUTE FUNCTION stream_publish_notification();

-- A filter or one of its keywords changed: clients reload their filters, and
-- the streaming process reloads the ones it applies.
CREATE FUNCTION stream_publish_filters() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    owner_id bigint;
BEGIN
    IF TG_TABLE_NAME = 'filters' THEN
        owner_id := CASE WHEN TG_OP = 'DELETE' THEN OLD.account_id ELSE NEW.account_id END;
    ELSE
        -- NULL when the filter itself is being deleted, whose own trigger fires.
        SELECT account_id INTO owner_id FROM filters
            WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.filter_id ELSE NEW.filter_id END;
    END IF;
    IF owner_id IS NOT NULL THEN
        PERFORM pg_notify('pedagogue_stream', 'filters_changed:' || owner_id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER filters_stream AFTER INSERT OR UPDATE OR DELETE ON filters
    FOR EACH ROW EXECUTE FUNCTION stream_publish_filters();
CREATE TRIGGER filter_keywords_stream AFTER INSERT OR UPDATE OR DELETE ON filter_keywords
    FOR EACH ROW EXECUTE FUNCTION stream_publish_filters();

-- A revoked token ends the streams opened with it.
CREATE FUNCTION stream_publish_revoked_token() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('pedagogue_stream', 'token_revoked:' || NEW.id);
    RETURN NULL;
END
$$;

CREATE TRIGGER tokens_stream AFTER UPDATE OF revoked_at ON tokens
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION stream_publish_revoked_token();
