-- What the connection directory shows of a connection's delivery (Connections/ConnectionDirectory.cs): the metadata the
-- tenant's webhook attached when it accepted the connection (a JSON object of string values; NULL when none), and the
-- forward target the connection went to, host:port (the tenant's own, or the one the webhook chose; NULL when it is
-- not forwarded). The silo checks the metadata's bounds (ConnectionMetadata) before it stores it; the checks here only
-- keep the shape.
ALTER TABLE connections
    ADD COLUMN metadata        jsonb CHECK (metadata IS NULL OR jsonb_typeof(metadata) = 'object'),
    ADD COLUMN forward_target  text CHECK (forward_target IS NULL OR char_length(forward_target) BETWEEN 3 AND 262);
