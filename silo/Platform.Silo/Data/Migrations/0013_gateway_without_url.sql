-- Gateways are reached through the observer their cluster client registers with their grain, not at a URL.
ALTER TABLE gateway_nodes DROP COLUMN internal_url;
