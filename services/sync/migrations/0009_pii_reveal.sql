-- PII (docs/architecture.md §11): per pseudonymous customer id, the plain open id, member id
-- and phone sealed with AES-256-GCM (sync.pii_encryption_key), for an admin's audited reveal;
-- and each phone's pseudonym → the customer id its latest order mapped to, so a phone finds a
-- wx:/vip: customer too.
CREATE TABLE pii_reveal (customer_id TEXT NOT NULL, field TEXT NOT NULL, nonce {blob} NOT NULL, sealed {blob} NOT NULL, PRIMARY KEY (customer_id, field));
CREATE TABLE pii_phones (phone_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL);
