-- The directory names a connection's negotiated protocol as the protocols do ('TLSv1.2', 'TLSv1.3',
-- 'DTLSv1.2'); gateways before this recorded .NET's enum names for TLS ('Tls12', 'Tls13'). Rows already
-- listed are converted so every row reads the same.
UPDATE connections
SET tls = jsonb_set(tls, '{protocol}', to_jsonb(CASE tls ->> 'protocol'
        WHEN 'Tls13' THEN 'TLSv1.3'
        WHEN 'Tls12' THEN 'TLSv1.2'
        WHEN 'Tls11' THEN 'TLSv1.1'
        WHEN 'Tls' THEN 'TLSv1'
    END))
WHERE tls ->> 'protocol' IN ('Tls13', 'Tls12', 'Tls11', 'Tls');
