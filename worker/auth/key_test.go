package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/fluxgate/fluxgate/config"
)

func TestNewKeys(t *testing.T) {
	rk := newTestKey(t, "RS256", 0)
	ek := newTestKey(t, "ES256", 0)
	dk := newTestKey(t, "EdDSA", 0)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	privDER, _ := x509.MarshalPKCS8PrivateKey(keys.rsa[0])
	priv := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER})
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&keys.rsa[0].PublicKey)})
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "issuer.test"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1, 0)} // expired: certificate dates are ignored
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &keys.rsa[0].PublicKey, keys.rsa[0])
	if err != nil {
		t.Fatal(err)
	}
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER})
	ecParams := []byte("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n")
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	edPub := pemPublic(t, edPriv.Public())

	f := func(alg string, key []byte, want error) {
		t.Helper()
		v, err := New(config.AuthPolicy{Name: "p", Algorithm: alg, Key: key}, Options{})
		if want == nil {
			if err != nil {
				t.Errorf("New(%s, %.30q) = %v; want ok", alg, key, err)
				return
			}
			v.Close()
			return
		}
		if !errors.Is(err, want) {
			t.Errorf("New(%s, %.30q) = %v; want %v", alg, key, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "secret-") {
			t.Errorf("error leaks key material: %v", err)
		}
	}
	f("HS256", []byte("s"), nil)
	f("HS256", nil, ErrNoKey)
	f("HS256", []byte(" \n"), ErrNoKey)
	f("HS256", rk.key, ErrKeyType)
	f("RS256", rk.key, nil)
	f("PS512", rk.key, nil)
	f("RS256", pkcs1, nil)
	f("RS256", cert, nil)
	f("RS256", []byte(strings.ReplaceAll(string(rk.key), "\n", `\n`)), nil)
	f("RS256", append(append([]byte{}, ecParams...), rk.key...), nil)
	f("RS256", nil, ErrNoKey)
	f("RS256", []byte("secret-not-pem"), ErrBadKey)
	f("RS256", []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), ErrBadKey)
	f("RS256", pemPublic(t, &small.PublicKey), ErrWeakKey)
	f("RS256", ek.key, ErrKeyType)
	f("RS256", priv, ErrPrivateKey)
	f("ES256", ek.key, nil)
	f("ES256", ecParams, ErrBadKey)
	f("ES256", pemPublic(t, &p384.PublicKey), ErrKeyType)
	f("ES384", pemPublic(t, &p384.PublicKey), nil)
	f("ES256", rk.key, ErrKeyType)
	f("EdDSA", dk.key, nil)
	f("EdDSA", edPub, nil)
	f("EdDSA", ek.key, ErrKeyType)
	f("none", []byte("s"), ErrAlgorithm)
	f("hs256", []byte("s"), ErrAlgorithm)
	f("", []byte("s"), ErrAlgorithm)
}

func TestNewPolicy(t *testing.T) {
	k := newTestKey(t, "HS256", 0)
	f := func(mod func(*config.AuthPolicy), want error) {
		t.Helper()
		p := k.policy()
		mod(&p)
		v, err := New(p, Options{})
		if !errors.Is(err, want) {
			t.Errorf("New(%+v) = %v; want %v", p, err, want)
		}
		if v != nil {
			v.Close()
		}
	}
	f(func(p *config.AuthPolicy) {}, nil)
	f(func(p *config.AuthPolicy) { p.LeewaySecs = intp(-1) }, ErrPolicy)
	f(func(p *config.AuthPolicy) { p.LeewaySecs = intp(0) }, nil)
	f(func(p *config.AuthPolicy) { p.RequiredScopes = []string{"a b"} }, ErrPolicy)
	f(func(p *config.AuthPolicy) { p.RequiredScopes = []string{`a"`} }, ErrPolicy)
	f(func(p *config.AuthPolicy) { p.RequiredScopes = []string{""} }, ErrPolicy)
	f(func(p *config.AuthPolicy) { p.RequiredScopes = []string{"orders:read"} }, nil)
	f(func(p *config.AuthPolicy) { p.ForwardClaims = map[string]string{"sub": "X-User"} }, nil)
	f(func(p *config.AuthPolicy) { p.ForwardClaims = map[string]string{"sub": "Host"} }, ErrPolicy)
	f(func(p *config.AuthPolicy) { p.ForwardClaims = map[string]string{"sub": "authorization"} }, ErrPolicy)
	f(func(p *config.AuthPolicy) { p.ForwardClaims = map[string]string{"sub": "X User"} }, ErrPolicy)
	f(func(p *config.AuthPolicy) { p.ForwardClaims = map[string]string{"sub": ""} }, ErrPolicy)
	f(func(p *config.AuthPolicy) { p.ForwardClaims = map[string]string{"sub": "x-a", "email": "X-A"} }, ErrPolicy)
	f(func(p *config.AuthPolicy) { p.ForwardClaims = map[string]string{"": "X-A"} }, ErrPolicy)
}
