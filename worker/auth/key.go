package auth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"github.com/cristalhq/jwt/v5"
)

// minRSABits is the smallest RSA modulus accepted (NIST SP 800-131A).
const minRSABits = 2048

// family is the key family an algorithm needs.
type family uint8

const (
	famHMAC family = iota + 1
	famRSA
	famEC
	famEd25519
)

// algFamily reports the key family of alg, or 0 for an unsupported one.
func algFamily(alg string) family {
	switch jwt.Algorithm(alg) {
	case jwt.HS256, jwt.HS384, jwt.HS512:
		return famHMAC
	case jwt.RS256, jwt.RS384, jwt.RS512, jwt.PS256, jwt.PS384, jwt.PS512:
		return famRSA
	case jwt.ES256, jwt.ES384, jwt.ES512:
		return famEC
	case jwt.EdDSA:
		return famEd25519
	}
	return 0
}

// ecCurve is the curve an ES algorithm requires.
func ecCurve(alg string) elliptic.Curve {
	switch jwt.Algorithm(alg) {
	case jwt.ES256:
		return elliptic.P256()
	case jwt.ES384:
		return elliptic.P384()
	}
	return elliptic.P521()
}

// staticVerifier builds the signature verifier of a policy with a static
// key: the secret for HS*, a PEM public key otherwise.
func staticVerifier(alg string, key []byte) (jwt.Verifier, error) {
	if len(bytes.TrimSpace(key)) == 0 {
		return nil, ErrNoKey
	}
	if algFamily(alg) == famHMAC {
		// A PEM blob as an HMAC secret is the setup of the HS/RS confusion
		// attack (the public key is public): refuse it.
		if bytes.Contains(key, []byte("-----BEGIN")) {
			return nil, fmt.Errorf("%w: %s needs a shared secret, got PEM data", ErrKeyType, alg)
		}
		v, err := jwt.NewVerifierHS(jwt.Algorithm(alg), key)
		if err != nil {
			return nil, fmt.Errorf("%w: %s secret", ErrBadKey, alg)
		}
		return v, nil
	}
	pub, err := parsePublicKeyPEM(key)
	if err != nil {
		return nil, err
	}
	return publicVerifier(alg, pub)
}

// parsePublicKeyPEM returns the first public key in data: a PKIX "PUBLIC
// KEY", a PKCS#1 "RSA PUBLIC KEY" or the key of an X.509 "CERTIFICATE".
// Other blocks (e.g. "EC PARAMETERS") are skipped; a private key is refused.
// Literal "\n" sequences, as environment variables often carry them, are
// read as newlines.
func parsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	if !bytes.Contains(data, []byte("\n")) && bytes.Contains(data, []byte(`\n`)) {
		data = bytes.ReplaceAll(data, []byte(`\n`), []byte("\n"))
	}
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("%w: no PEM public key found", ErrBadKey)
		}
		switch block.Type {
		case "PUBLIC KEY":
			pub, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: PUBLIC KEY block does not parse", ErrBadKey)
			}
			return pub, nil
		case "RSA PUBLIC KEY":
			pub, err := x509.ParsePKCS1PublicKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: RSA PUBLIC KEY block does not parse", ErrBadKey)
			}
			return pub, nil
		case "CERTIFICATE":
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: CERTIFICATE block does not parse", ErrBadKey)
			}
			return cert.PublicKey, nil
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "OPENSSH PRIVATE KEY":
			return nil, ErrPrivateKey
		}
	}
}

// publicVerifier checks that pub fits alg and builds its verifier.
func publicVerifier(alg string, pub crypto.PublicKey) (jwt.Verifier, error) {
	a := jwt.Algorithm(alg)
	switch algFamily(alg) {
	case famRSA:
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%w: %s needs an RSA public key, got %s", ErrKeyType, alg, keyKind(pub))
		}
		if k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("%w: %d bits", ErrWeakKey, k.N.BitLen())
		}
		if a[0] == 'P' {
			return jwt.NewVerifierPS(a, k)
		}
		return jwt.NewVerifierRS(a, k)
	case famEC:
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok || k.Curve != ecCurve(alg) {
			return nil, fmt.Errorf("%w: %s needs an ECDSA %s public key, got %s", ErrKeyType, alg, ecCurve(alg).Params().Name, keyKind(pub))
		}
		return jwt.NewVerifierES(a, k)
	case famEd25519:
		k, ok := pub.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%w: EdDSA needs an Ed25519 public key, got %s", ErrKeyType, keyKind(pub))
		}
		return jwt.NewVerifierEdDSA(k)
	case famHMAC:
		return nil, fmt.Errorf("%w: %s needs a shared secret, got a public key", ErrKeyType, alg)
	}
	return nil, fmt.Errorf("%w: %q", ErrAlgorithm, alg)
}

// keyKind names the type of a public key for error messages.
func keyKind(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "RSA"
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", pub)
}
