// Package auth verifies JWT bearer tokens for one auth policy (SPEC §4,
// "Authentication").
//
// Invariants:
//
//   - A token is accepted only if its header alg equals the policy's
//     algorithm exactly, its signature verifies with a key of the type that
//     algorithm requires, it carries exp, and every configured check (iss,
//     aud, nbf, iat, required scopes) passes. There is no "none" and no
//     HS/RS confusion: an HS policy refuses PEM key material and an RS, PS,
//     ES or EdDSA policy only ever holds a public key of the matching type.
//   - Time is never read from the clock on the verification path: Verify
//     takes now, and exp, nbf and iat are re-evaluated against it on every
//     call, cache hits included. Leeway applies to all three.
//   - The verified-token cache holds only tokens that passed every check at
//     insertion; it is bounded, keyed by a hash of the token and confirmed
//     against the full token, and never returns an entry whose exp (plus
//     leeway) has passed. A JWKS entry is also dropped once its key leaves
//     the key set.
//   - An *Identity is immutable and shared between requests; an *Error is
//     preallocated per Verifier and shared: neither may be modified.
//   - No token, claim-derived text or key material ever appears in an
//     *Error, a returned error or a log line. Descriptions are fixed strings.
//   - Every goroutine (the JWKS refresher) is owned by its Verifier and is
//     stopped and waited for by Close.
//
// Bearer parsing: the header value must be "Bearer" (any case), one or more
// spaces or tabs, then a compact JWS of three canonical base64url segments
// (no unused bits set, so a token has one spelling) joined by two dots, at
// most 16 KiB. An empty value or another scheme
// (e.g. "Basic ...") is a missing token (RFC 6750 §3.1: no error code);
// "Bearer" with a bad or oversized token is a malformed token.
//
// JWKS: the set is fetched by New and refreshed by a background goroutine
// at 90 % of its Cache-Control max-age (default 5 min, clamped to
// [30 s, 24 h]); a failed fetch keeps the last good set and is retried after
// 10 s, doubling. A token with an unknown kid makes Verify fetch the set
// synchronously (5 s timeout) at most once per 10 s of now; other such
// tokens in that window fail at once with unknown_kid. The fetcher is its
// own type (JWKS) so that it can later be driven from elsewhere.
//
// Key ids: with a static key, a policy key_id that is set must equal the
// token's kid when the token carries one (a token without kid is accepted).
// With a JWKS, kid selects the key; a token without kid is accepted only
// when the set has a key without kid or exactly one key.
package auth
