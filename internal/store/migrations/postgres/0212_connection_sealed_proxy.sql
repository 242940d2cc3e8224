-- PostgreSQL twin of ../sqlite/0212_connection_sealed_proxy.sql (BYTEA for BLOB).
-- A connection's proxy URL with its password, sealed (AES-256-GCM under the master key,
-- bound to the connection's name); NULL when the proxy has no password. The proxy
-- column then holds the URL with its password masked. Proxies stored in clear before
-- this migration are sealed by vtsoar the first time it opens the database with the
-- master key (connclient.SealProxies): SQL has no key to seal them with.
ALTER TABLE connections ADD COLUMN sealed_proxy BYTEA;
