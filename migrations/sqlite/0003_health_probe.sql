-- One row that /readyz updates to prove the database can write.
CREATE TABLE health_probe (id INTEGER PRIMARY KEY, beats BIGINT NOT NULL DEFAULT 0);
INSERT INTO health_probe (id, beats) VALUES (1, 0);
