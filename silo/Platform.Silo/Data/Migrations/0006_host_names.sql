-- Every host name a tenant claims (its own {slug}.{domain}, the config's hostNames, its certificates' DNS
-- names) and whether it is proven. Several tenants may hold a pending claim on one name; only verified names
-- route, and host_name_claims (unique across tenants) holds exactly those.
CREATE TABLE host_names (
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    host_name        text NOT NULL,                 -- lower case; a wildcard starts with '*.'
    sources          text[] NOT NULL,               -- 'platform', 'config', 'certificate'
    status           text NOT NULL CHECK (status IN ('pending', 'verified')),
    challenge_token  text,                          -- value of the TXT record; NULL for platform names
    verified_at      timestamptz,
    verified_by      text CHECK (verified_by IN ('dns', 'operator', 'platform')),
    last_check       text,                          -- what the last failed DNS check found
    last_check_at    timestamptz,
    created_at       timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, host_name),
    CONSTRAINT host_names_verified_check CHECK ((status = 'verified') = (verified_at IS NOT NULL AND verified_by IS NOT NULL)),
    CONSTRAINT host_names_token_check CHECK (verified_by IS NOT DISTINCT FROM 'platform' OR challenge_token IS NOT NULL)
);

-- Wildcard coverage: the verified names ending in '.parent' are found by a prefix of the reversed name.
CREATE INDEX host_name_claims_reversed_idx ON host_name_claims (reverse(host_name) text_pattern_ops);

-- Names claimed before proof existed route nothing until they are proven or approved. Their sources and
-- the tenants' platform names are filled in by the silo at start (it knows the platform domain).
-- Two random UUIDs give 244 random bits from PostgreSQL's strong random source.
INSERT INTO host_names (tenant_id, host_name, sources, status, challenge_token, created_at)
SELECT tenant_id, host_name, '{}', 'pending', replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), now()
FROM host_name_claims;
DELETE FROM host_name_claims;
