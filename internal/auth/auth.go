// Package auth makes the bearer tokens of the REST API's users and the users who hold
// them, and the ids of the web console's sessions. A token (TokenPrefix and 32 random bytes) is shown once, when it is made; the
// store keeps only its SHA-256 (HashToken), by which the server finds the token's user.
// The keys of the VirusTotal gateway (NewGatewayKey, CreateGatewayKey) are made and
// hashed the same way, in the form of VirusTotal's keys.
//
// The CLI (`vtsoar user`, `vtsoar demo`) makes users and tokens here and the server
// (package server) checks them here, so that neither imports the other.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/vtsoar/vtsoar/internal/store"
)

// TokenPrefix starts every bearer token, so that secret scanners recognise a leaked one.
const TokenPrefix = "vtsoar_"

// NewToken returns a new bearer token (TokenPrefix and 32 random bytes in base64url)
// and the hash the store keeps.
func NewToken() (token string, hash []byte) {
	var b [32]byte
	rand.Read(b[:])
	token = TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashToken(token)
}

// NewSessionID returns the id of a new console session (32 random bytes in
// base64url), which only the browser's cookie holds, and the hash the store keeps
// (HashToken of it).
func NewSessionID() (id string, hash []byte) {
	var b [32]byte
	rand.Read(b[:])
	id = base64.RawURLEncoding.EncodeToString(b[:])
	return id, HashToken(id)
}

// HashToken returns the SHA-256 of a token, the form users are looked up by.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// CreateUser stores a new user with a fresh token and returns the token, which is
// shown once and cannot be recovered. Sites empty means every site. An error wraps
// store.ErrExists when the name is taken.
func CreateUser(ctx context.Context, st store.Users, name, role string, sites []string) (string, error) {
	name = strings.TrimSpace(name)
	if err := store.CheckUserName(name); err != nil {
		return "", err
	}
	if role != store.RoleAdmin && role != store.RoleAnalyst {
		return "", fmt.Errorf("role %q: want %s or %s", role, store.RoleAdmin, store.RoleAnalyst)
	}
	sites, err := store.CleanSites(sites)
	if err != nil {
		return "", err
	}
	if len(sites) == 0 {
		sites = []string{store.AllSites}
	}
	token, hash := NewToken()
	if err := st.CreateUser(ctx, store.User{Name: name, Role: role, Sites: sites, TokenHash: hash}); err != nil {
		return "", err
	}
	return token, nil
}

// ReissueToken gives the user name a fresh token in place of its current one, which
// stops working at once, and returns it. An error wraps store.ErrNotFound when there is
// no such user.
func ReissueToken(ctx context.Context, st store.Users, name string) (string, error) {
	token, hash := NewToken()
	if err := st.SetUserToken(ctx, name, hash); err != nil {
		return "", err
	}
	return token, nil
}
