package auth

import (
	"errors"
	"net/http"
	"strings"
)

// Configuration errors returned by New, NewJWKS and the JWKS refresher.
var (
	// ErrAlgorithm reports an algorithm that is not one of HS256/384/512,
	// RS256/384/512, PS256/384/512, ES256/384/512 or EdDSA.
	ErrAlgorithm = errors.New("auth: unsupported algorithm")
	// ErrNoKey reports a policy without key material.
	ErrNoKey = errors.New("auth: no key")
	// ErrBadKey reports key material that cannot be parsed.
	ErrBadKey = errors.New("auth: unusable key")
	// ErrKeyType reports a key whose type or curve does not fit the algorithm.
	ErrKeyType = errors.New("auth: key type does not match the algorithm")
	// ErrWeakKey reports an RSA key shorter than 2048 bits.
	ErrWeakKey = errors.New("auth: RSA key shorter than 2048 bits")
	// ErrPrivateKey reports private key material where a public key belongs.
	ErrPrivateKey = errors.New("auth: private key given, public key wanted")
	// ErrPolicy reports an invalid leeway, scope or forward_claims entry.
	ErrPolicy = errors.New("auth: invalid policy")
	// ErrJWKS reports a key set that could not be fetched or had no usable key.
	ErrJWKS = errors.New("auth: JWKS unavailable")
)

// Error is an authentication failure, ready to be written by the single
// error writer: status, JSON error code and WWW-Authenticate value. Errors
// are preallocated per Verifier and shared; do not modify them.
type Error struct {
	// Status is 401 or 403.
	Status int
	// Code is the JSON "error" code: "missing_token", "invalid_token" or
	// "insufficient_scope".
	Code string
	// Reason is a metrics label from a fixed set: missing_token, malformed,
	// bad_algorithm, bad_signature, expired, not_yet_valid, bad_issuer,
	// bad_audience, missing_scope, unknown_kid.
	Reason string
	// Description is short fixed text, safe for clients and logs.
	Description string
	// WWWAuthenticate is the full WWW-Authenticate header value (RFC 6750).
	WWWAuthenticate string
}

// Error returns "auth: <reason>: <description>".
func (e *Error) Error() string {
	return "auth: " + e.Reason + ": " + e.Description
}

// problem is one way a token fails; each maps to a reason and a fixed
// description.
type problem uint8

const (
	probNone problem = iota
	probMissing
	probMalformed
	probTooLarge
	probNoExp
	probBadAlgorithm
	probBadSignature
	probExpired
	probNotBefore
	probIssuedInFuture
	probBadIssuer
	probBadAudience
	probNoAudience
	probUnknownKID
	probMissingScope
	numProblems
)

// text returns the metrics reason and the client-safe description of p.
func (p problem) text() (reason, desc string) {
	switch p {
	case probMissing:
		return "missing_token", "bearer token required"
	case probMalformed:
		return "malformed", "malformed token"
	case probTooLarge:
		return "malformed", "token too large"
	case probNoExp:
		return "malformed", "token has no exp claim"
	case probBadAlgorithm:
		return "bad_algorithm", "unexpected signing algorithm"
	case probBadSignature:
		return "bad_signature", "invalid signature"
	case probExpired:
		return "expired", "token expired"
	case probNotBefore:
		return "not_yet_valid", "token not yet valid"
	case probIssuedInFuture:
		return "not_yet_valid", "token issued in the future"
	case probBadIssuer:
		return "bad_issuer", "wrong issuer"
	case probBadAudience:
		return "bad_audience", "wrong audience"
	case probNoAudience:
		return "bad_audience", "token has no audience"
	case probUnknownKID:
		return "unknown_kid", "unknown key id"
	case probMissingScope:
		return "missing_scope", "missing required scope"
	}
	return "malformed", "malformed token"
}

const realm = `Bearer realm="fluxgate"`

// buildErrors preallocates one *Error per problem. scopes (already
// validated as RFC 6749 scope tokens) go into the insufficient_scope
// challenge.
func buildErrors(scopes []string) [numProblems]*Error {
	var errs [numProblems]*Error
	for p := probMissing; p < numProblems; p++ {
		reason, desc := p.text()
		e := &Error{Reason: reason, Description: desc}
		switch p {
		case probMissing:
			e.Status, e.Code, e.WWWAuthenticate = http.StatusUnauthorized, "missing_token", realm
		case probMissingScope:
			e.Status, e.Code = http.StatusForbidden, "insufficient_scope"
			e.WWWAuthenticate = realm + `, error="insufficient_scope", error_description="` +
				desc + `", scope="` + strings.Join(scopes, " ") + `"`
		default:
			e.Status, e.Code = http.StatusUnauthorized, "invalid_token"
			e.WWWAuthenticate = realm + `, error="invalid_token", error_description="` + desc + `"`
		}
		errs[p] = e
	}
	return errs
}
