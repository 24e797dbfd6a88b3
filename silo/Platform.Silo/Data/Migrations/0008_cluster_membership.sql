-- Orleans cluster membership: which silos make up each cluster and what the membership protocol agreed about
-- them. The silo's own membership table reads and writes these rows (Cluster/PostgresMembershipTable.cs).
--
-- One version row per cluster. Every change to a silo row also moves the cluster's version forward, and both
-- writes are conditional on the etags the writer read: two silos acting on the same view cannot both win.
CREATE TABLE cluster_versions (
    cluster_id   text PRIMARY KEY,
    version      integer NOT NULL,
    etag         integer NOT NULL,
    updated_at   timestamptz NOT NULL
);

-- A silo is one process incarnation: its address, silo port and generation (a per-start number).
CREATE TABLE cluster_silos (
    cluster_id        text NOT NULL REFERENCES cluster_versions (cluster_id) ON DELETE CASCADE,
    address           inet NOT NULL,
    port              integer NOT NULL,
    generation        integer NOT NULL,
    silo_name         text NOT NULL,
    host_name         text NOT NULL,
    -- Orleans' SiloStatus: 1 created, 2 joining, 3 active, 4 shutting down, 5 stopping, 6 dead.
    status            integer NOT NULL,
    gateway_port      integer NOT NULL,
    -- Who suspected this silo and when: [{"silo": "<address:port@generation>", "at": "<time>"}].
    suspect_times     jsonb NOT NULL DEFAULT '[]',
    start_time        timestamptz NOT NULL,
    i_am_alive_time   timestamptz NOT NULL,
    etag              integer NOT NULL,
    PRIMARY KEY (cluster_id, address, port, generation)
);
