//go:build !vtsoar_testknobs

package testknobs

// Enabled reports whether this binary was built with the knobs (tag vtsoar_testknobs).
const Enabled = false

// Load returns no knobs: this binary was built without them.
func Load(func(string) string) (Knobs, error) { return Knobs{}, nil }
