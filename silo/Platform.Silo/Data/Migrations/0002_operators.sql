-- Operators sign in to the admin portal; the portal verifies passwords through the silo.
CREATE TABLE operators (
    id               uuid PRIMARY KEY,
    user_name        text NOT NULL,
    password_hash    text NOT NULL,            -- ASP.NET Core Identity PasswordHasher (PBKDF2)
    failed_attempts  integer NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    locked_until     timestamptz,
    created_at       timestamptz NOT NULL,
    last_sign_in_at  timestamptz
);
-- User names are compared case-insensitively, so "Alice" and "alice" are one account.
CREATE UNIQUE INDEX operators_user_name_idx ON operators (lower(user_name));
