// Package secret encrypts the API keys vtsoar stores and resolves secret references.
//
// # Master key
//
// Stored API keys are sealed with AES-256-GCM under a 32-byte master key, taken from
// the environment variable VTSOAR_MASTER_KEY when it is set and otherwise from a key
// file beside the database (KeyFilePath), created with mode 0600 on first use.
//
// VTSOAR_MASTER_KEY holds the 32 bytes as 64 hexadecimal characters or as standard or
// URL-safe base64 (with or without padding); generate one with
//
//	openssl rand -hex 32
//
// The key file holds the same text form. A key file readable or writable by anyone but
// its owner is refused: a database copied together with a world-readable key file would
// give away every stored key.
//
// # Sealed form
//
// A sealed value is
//
//	version (1 byte, 0x01) | key id (8 bytes) | nonce (12 bytes) | ciphertext and GCM tag
//
// The key id is derived from the master key (it is not secret and reveals nothing of
// it), so that a value sealed under another master key fails with ErrWrongKey instead
// of a bare authentication failure, and so that a Cipher holding several keys can open
// values sealed under an older one while sealing under the newest (key rotation). The
// version byte and key id are authenticated together with the caller's associated data
// (for a connection, its name), so a sealed key cannot be moved to another row.
//
// # References
//
// A secret reference names where a secret lives instead of holding it: "env:NAME" is
// the environment variable NAME and "file:PATH" the content of a file, without its
// trailing newline. Resolve reads them.
package secret

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// EnvMasterKey is the environment variable holding the master key.
const EnvMasterKey = "VTSOAR_MASTER_KEY"

// KeySize is the size of a master key in bytes (AES-256).
const KeySize = 32

// Version1 is the first byte of values sealed by this package.
const Version1 byte = 0x01

const (
	keyIDSize  = 8
	nonceSize  = 12
	headerSize = 1 + keyIDSize + nonceSize
)

var (
	// ErrWrongKey is returned by Open for a value sealed under a master key the Cipher
	// does not hold.
	ErrWrongKey = errors.New("secret: sealed under another master key")
	// ErrCorrupt is returned by Open for a value that is truncated, of an unknown
	// version, or fails authentication (tampered with, or bound to other associated
	// data).
	ErrCorrupt = errors.New("secret: sealed value is corrupt or was tampered with")
)

// KeyID identifies a master key without revealing it.
type KeyID [keyIDSize]byte

// String returns the id in hex.
func (id KeyID) String() string { return hex.EncodeToString(id[:]) }

type key struct {
	id   KeyID
	aead cipher.AEAD
}

// Cipher seals and opens values under master keys. It is safe for concurrent use.
type Cipher struct {
	keys []key // keys[0] seals; all open
}

// NewCipher returns a Cipher that seals under primary and opens values sealed under
// primary or any of older. Every key must be KeySize bytes.
func NewCipher(primary []byte, older ...[]byte) (*Cipher, error) {
	c := &Cipher{}
	for i, k := range append([][]byte{primary}, older...) {
		if len(k) != KeySize {
			return nil, fmt.Errorf("secret: master key %d is %d bytes, want %d", i, len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("secret: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("secret: %w", err)
		}
		c.keys = append(c.keys, key{id: deriveKeyID(k), aead: aead})
	}
	return c, nil
}

// deriveKeyID hashes the key under a fixed label so the id is not a usable digest of the
// key for anything else.
func deriveKeyID(k []byte) KeyID {
	h := sha256.New()
	h.Write([]byte("vtsoar master key id v1\x00"))
	h.Write(k)
	var id KeyID
	copy(id[:], h.Sum(nil))
	return id
}

// KeyID returns the id of the key that Seal uses.
func (c *Cipher) KeyID() KeyID { return c.keys[0].id }

// Seal encrypts plaintext, binding it to aad (which must be given again to Open).
func (c *Cipher) Seal(plaintext, aad []byte) ([]byte, error) {
	k := c.keys[0]
	out := make([]byte, headerSize, headerSize+len(plaintext)+k.aead.Overhead())
	out[0] = Version1
	copy(out[1:], k.id[:])
	if _, err := rand.Read(out[1+keyIDSize : headerSize]); err != nil {
		return nil, fmt.Errorf("secret: nonce: %w", err)
	}
	nonce := out[1+keyIDSize : headerSize]
	return k.aead.Seal(out, nonce, plaintext, additional(out[:1+keyIDSize], aad)), nil
}

// Open decrypts a value made by Seal with the same aad. It returns ErrWrongKey when
// the value was sealed under a key the Cipher does not hold, and ErrCorrupt when it is
// malformed or fails authentication.
func (c *Cipher) Open(sealed, aad []byte) ([]byte, error) {
	if len(sealed) < headerSize {
		return nil, ErrCorrupt
	}
	if sealed[0] != Version1 {
		return nil, fmt.Errorf("%w (unknown version %d)", ErrCorrupt, sealed[0])
	}
	var id KeyID
	copy(id[:], sealed[1:])
	for _, k := range c.keys {
		if k.id != id {
			continue
		}
		nonce := sealed[1+keyIDSize : headerSize]
		plain, err := k.aead.Open(nil, nonce, sealed[headerSize:], additional(sealed[:1+keyIDSize], aad))
		if err != nil {
			return nil, ErrCorrupt
		}
		return plain, nil
	}
	return nil, fmt.Errorf("%w (key id %s; this master key is %s)", ErrWrongKey, id, c.keys[0].id)
}

// SealedKeyID returns the id of the key a sealed value was made with.
func SealedKeyID(sealed []byte) (KeyID, error) {
	var id KeyID
	if len(sealed) < headerSize || sealed[0] != Version1 {
		return id, ErrCorrupt
	}
	copy(id[:], sealed[1:])
	return id, nil
}

func additional(header, aad []byte) []byte {
	return append(append(bytes.Clone(header), 0), aad...)
}

// ParseKey decodes a master key given as 64 hex characters or as base64 (standard or
// URL-safe, padded or not) of 32 bytes. Surrounding white space is ignored. The error
// never repeats the input.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*KeySize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("master key decodes to %d bytes, want %d", len(b), KeySize)
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("master key must be %d bytes as %d hex characters or base64 (%d characters given)", KeySize, 2*KeySize, len(s))
}

// EncodeKey returns the text form of a master key (hex) written to key files.
func EncodeKey(k []byte) string { return hex.EncodeToString(k) }
