-- Client raw public keys (RFC 7250) a tenant trusts for DTLS. Public, so stored in the clear; write-once (no update).
CREATE TABLE raw_public_keys (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        text NULL CHECK (name IS NULL OR char_length(name) BETWEEN 1 AND 64),
    fingerprint text NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{64}$'),   -- SHA-256 of spki, lower-case hex
    algorithm   text NOT NULL,
    spki        bytea NOT NULL,                                           -- DER SubjectPublicKeyInfo as sent
    created_at  timestamptz NOT NULL,
    UNIQUE (tenant_id, fingerprint)
);
