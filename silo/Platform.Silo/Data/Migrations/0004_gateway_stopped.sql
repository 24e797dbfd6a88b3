-- A gateway that stops cleanly says so: 'stopped' (leases freed, connections closed at once), as
-- opposed to 'dead' (stopped heartbeating, reaped after the heartbeat timeout). dead_at holds when
-- either happened.
ALTER TABLE gateway_nodes DROP CONSTRAINT gateway_nodes_status_check;
ALTER TABLE gateway_nodes ADD CONSTRAINT gateway_nodes_status_check CHECK (status IN ('up', 'draining', 'dead', 'stopped'));
