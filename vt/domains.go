package vt

import "context"

// GetDomain returns the report of a domain.
func (c *Client) GetDomain(ctx context.Context, domain string, opts ...GetOption) (*Domain, error) {
	r, res, err := c.getReport(ctx, CollectionDomains, "domain", domain, opts)
	if err != nil {
		return nil, err
	}
	extra := decodeOptions(opts)
	return decodeWith(c, r, res, func(b []byte) (*Domain, error) { return decodeDomainBody(b, extra...) })
}
