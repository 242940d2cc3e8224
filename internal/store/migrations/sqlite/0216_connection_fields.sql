-- The connection fields of D3 SOAR's integration that vtsoar lacked:
-- inactive: 1 when the connection runs nothing (D3's Active unticked); description:
-- free text; api_version: the VirusTotal API version, '' for v3 (the only one);
-- include_private: 1 when the connection sends private addresses and names to
-- VirusTotal; notify_emails (a JSON list), notify_webhook_url and
-- sealed_notify_webhook_secret_ref (the webhook's secret reference, sealed): the
-- connection's own health notification recipients, which replace the service's;
-- sealed_api_key_ref: the API key as a secret reference resolved at each use
-- (env:NAME, file:PATH, exec:COMMAND), sealed under the master key and bound to the
-- connection's name, instead of the key itself in sealed_api_key (then empty).
ALTER TABLE connections ADD COLUMN inactive INTEGER NOT NULL DEFAULT 0;
ALTER TABLE connections ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE connections ADD COLUMN api_version TEXT NOT NULL DEFAULT '';
ALTER TABLE connections ADD COLUMN include_private INTEGER NOT NULL DEFAULT 0;
ALTER TABLE connections ADD COLUMN notify_emails TEXT NOT NULL DEFAULT '[]';
ALTER TABLE connections ADD COLUMN notify_webhook_url TEXT NOT NULL DEFAULT '';
ALTER TABLE connections ADD COLUMN sealed_notify_webhook_secret_ref BLOB;
ALTER TABLE connections ADD COLUMN sealed_api_key_ref BLOB;
