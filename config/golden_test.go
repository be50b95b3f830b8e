package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Golden cases live in testdata/*.txt: the YAML input, then optionally a
// line "==== env" and KEY=VALUE lines (replacing the default environment),
// then a line "==== want" and the expected errors, one a line, or "OK".
// The input is parsed as "config.yaml". UPDATE_GOLDEN=1 rewrites the wants.

const (
	envMarker  = "==== env\n"
	wantMarker = "==== want\n"
)

// goldenCase is one parsed testdata file.
type goldenCase struct {
	input string
	env   map[string]string // nil: JWT_SECRET only
	want  string
}

func readCase(t testing.TB, file string) goldenCase {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	in, want, ok := strings.Cut(s, wantMarker)
	if !ok {
		t.Fatalf("%s: no %q line", file, strings.TrimSpace(wantMarker))
	}
	gc := goldenCase{input: in, want: strings.TrimSpace(want)}
	if in, env, ok := strings.Cut(in, envMarker); ok {
		gc.input = in
		gc.env = map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(env), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				gc.env[k] = v
			}
		}
	}
	return gc
}

// getenvOf serves env, or only JWT_SECRET when env is nil.
func getenvOf(env map[string]string) func(string) string {
	if env == nil {
		env = map[string]string{"JWT_SECRET": "s3cret"}
	}
	return func(k string) string { return env[k] }
}

// run parses a case and renders the outcome like the check command would.
func (gc goldenCase) run() string {
	_, err := Parse([]byte(gc.input), "config.yaml", getenvOf(gc.env))
	if err != nil {
		return err.Error()
	}
	return "OK"
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	update := os.Getenv("UPDATE_GOLDEN") == "1"
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			t.Parallel()
			gc := readCase(t, file)
			got := gc.run()
			if update {
				b, _ := os.ReadFile(file)
				in, _, _ := strings.Cut(string(b), wantMarker)
				if err := os.WriteFile(file, []byte(in+wantMarker+got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != gc.want {
				t.Errorf("Parse(%s) =\n%s\nwant\n%s", file, got, gc.want)
			}
		})
	}
}
