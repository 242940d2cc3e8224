-- A connection's risk policy (internal/risk.Policy as JSON: thresholds, a suspicious
-- threshold, preferred vendors, crowdsourced rules); '' is the default policy.
ALTER TABLE connections ADD COLUMN risk_policy TEXT NOT NULL DEFAULT '';
