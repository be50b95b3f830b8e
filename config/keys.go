package config

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// resolveKeys fills AuthPolicy.Key: nothing for a JWKS policy, else the
// key_file (relative names are taken from the config file's directory), else
// JWT_KEY_{NAME}, else JWT_SECRET. Messages name sources, never contents.
func (v *validator) resolveKeys() {
	for i := range v.c.AuthPolicies {
		p := &v.c.AuthPolicies[i]
		switch {
		case p.JWKSURL != "":
			continue
		case p.KeyFile != "":
			name := p.KeyFile
			if !filepath.IsAbs(name) && v.c.Path != "" {
				name = filepath.Join(filepath.Dir(v.c.Path), name)
			}
			b, err := readKeyFile(name)
			if err != nil {
				v.errf(fmt.Sprintf("auth_policies[%d].key_file", i), "key file unreadable: %v", err)
				continue
			}
			if len(strings.TrimSpace(string(b))) == 0 {
				v.errf(fmt.Sprintf("auth_policies[%d].key_file", i), "key file %q is empty", p.KeyFile)
				continue
			}
			p.Key = b
			continue
		}
		env := KeyEnv(*p)
		if k := v.getenv(env); k != "" {
			p.Key = []byte(k)
		} else if k := v.getenv("JWT_SECRET"); k != "" {
			p.Key = []byte(k)
		} else if p.Name != "" {
			v.errf(fmt.Sprintf("auth_policies[%d]", i), "no key: set %s or JWT_SECRET, or key_file/jwks_url", env)
		}
	}
}

// KeyEnv is the environment variable holding p's key: JWT_KEY_ and the
// key_id (else the name), upper-cased, with '-' turned into '_'.
func KeyEnv(p AuthPolicy) string {
	n := p.KeyID
	if n == "" {
		n = p.Name
	}
	return "JWT_KEY_" + strings.ReplaceAll(strings.ToUpper(n), "-", "_")
}

// maxKeyFile bounds a key file; real keys and JWKS-free PEM bundles are far
// smaller.
const maxKeyFile = 1 << 20

// readKeyFile reads a regular file of at most maxKeyFile bytes, so that a
// mistaken path such as /dev/zero cannot hang or exhaust the loader.
func readKeyFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w", name, errNotRegular)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("%s: %w", name, errKeyTooLarge)
	}
	return b, nil
}
