-- A client's bookings with different coaches are written one at a time (each booking
-- transaction bumps this counter, which locks the client's row), so a client cannot end up
-- holding two overlapping sessions by booking two coaches at once.
ALTER TABLE users ADD COLUMN booking_lock BIGINT NOT NULL DEFAULT 0;
