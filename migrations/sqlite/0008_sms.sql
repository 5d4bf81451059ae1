-- SMS reminders: the person's mobile number (E.164) and whether they want reminders by SMS
-- (off until they turn it on: an SMS costs money and reaches a phone at any hour).
ALTER TABLE users ADD COLUMN phone TEXT;
ALTER TABLE users ADD COLUMN sms_reminders BIGINT NOT NULL DEFAULT 0;
