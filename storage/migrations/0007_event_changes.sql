-- Edits, cancellation and deletion of events.

-- The iCalendar SEQUENCE of the event (RFC 5545 section 3.8.7.4). It grows by
-- one with each change of the event's fields or description, so calendar
-- clients replace their copy instead of keeping both.
ALTER TABLE events ADD COLUMN sequence integer NOT NULL DEFAULT 0
    CHECK (sequence >= 0);
