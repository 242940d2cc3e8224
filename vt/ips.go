package vt

import "context"

// GetIPAddress returns the report of an IP address.
func (c *Client) GetIPAddress(ctx context.Context, ip string, opts ...GetOption) (*IPAddress, error) {
	r, res, err := c.getReport(ctx, CollectionIPAddresses, "IP address", ip, opts)
	if err != nil {
		return nil, err
	}
	extra := decodeOptions(opts)
	return decodeWith(c, r, res, func(b []byte) (*IPAddress, error) { return decodeIPBody(b, extra...) })
}
