-- The version of a gateway node's row. The node's grain (Gateways/Nodes/GatewayGrain.cs) holds the row in memory and
-- writes it only where row_version is still the one it last read or wrote: a stale activation, or a second one during
-- a cluster membership change, finds no row to update, reloads and decides again, so it never overwrites a newer
-- status, drain or refusal sequence. Every update moves the version forward, also one that does not set it (an
-- operator's manual fix), so no change to the row can go unnoticed by an activation holding it.
ALTER TABLE gateway_nodes ADD COLUMN row_version bigint NOT NULL DEFAULT 1 CHECK (row_version > 0);

CREATE FUNCTION gateway_nodes_next_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.row_version <= OLD.row_version THEN
        NEW.row_version := OLD.row_version + 1;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER gateway_nodes_version BEFORE UPDATE ON gateway_nodes
    FOR EACH ROW EXECUTE FUNCTION gateway_nodes_next_version();
