package config

import (
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics and that it returns either a
// config or positioned Errors, never both or neither.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.txt")
	for _, file := range files {
		gc := readCase(f, file)
		f.Add([]byte(gc.input))
	}
	f.Add([]byte("a: &a [*a, *a]\nb: *a\n"))
	f.Add([]byte("x: &x {<<: [*x, *x]}\n"))
	getenv := getenvOf(nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		if strings.Contains(string(data), "key_file") {
			t.Skip("key_file reads the file system")
		}
		c, err := Parse(data, "f.yaml", getenv)
		if (c == nil) == (err == nil) {
			t.Fatalf("Parse = %v, %v; want exactly one", c, err)
		}
		if err == nil {
			return
		}
		var es Errors
		if !errors.As(err, &es) || len(es) == 0 {
			t.Fatalf("Parse error %T %v; want non-empty Errors", err, err)
		}
		for _, e := range es {
			if e.File != "f.yaml" || e.Line < 1 || e.Col < 1 || e.Msg == "" {
				t.Fatalf("bad error %+v", e)
			}
		}
	})
}

func TestAliasExpansionBounded(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("x-base: &l0 {workers: 1}\n")
	for i := 1; i <= 40; i++ {
		b.WriteString("x-l" + itoa(i) + ": &l" + itoa(i) + " {<<: [*l" + itoa(i-1) + ", *l" + itoa(i-1) + "]}\n")
	}
	b.WriteString("server: *l40\n")
	b.WriteString("upstreams: &u [{name: a, base_url: 'http://a'}]\n")
	_, err := Parse([]byte(b.String()), "bomb.yaml", getenvOf(nil))
	if err == nil || !strings.Contains(err.Error(), "too many nodes") {
		t.Errorf("Parse(alias bomb) = %v; want a too many nodes error", err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
