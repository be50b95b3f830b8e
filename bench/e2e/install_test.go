package e2e

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// makeInstall runs `make TARGET` in the repository root with DESTDIR and
// BIN under dir (the build never touches the checkout's bin/), plus vars.
func makeInstall(t *testing.T, target, destdir string, vars ...string) string {
	t.Helper()
	makeBin, err := exec.LookPath("make")
	if err != nil {
		t.Skip("make not found")
	}
	args := append([]string{"--no-print-directory", target, "DESTDIR=" + destdir, "BIN=" + filepath.Join(t.TempDir(), "bin")}, vars...)
	cmd := exec.Command(makeBin, args...)
	cmd.Dir = repoRoot(t)
	// Defaults under test: nothing from an enclosing make or the caller's
	// environment (PREFIX ?= would take it).
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "PREFIX", "DESTDIR", "UNITDIR", "SYSCONFDIR", "BIN":
		default:
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// wantFile checks that path is a regular file with mode perm and returns
// its content.
func wantFile(t *testing.T, path string, perm fs.FileMode) string {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("installed file: %v", err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != perm {
		t.Errorf("%s: mode %v; want a regular file with %v", path, fi.Mode(), perm)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func wantGone(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("%s after uninstall: %v; want removed", path, err)
	}
}

// TestInstallLayout: `make install DESTDIR=...` lays out the binary, the
// unit and the config with the right modes; a second install keeps an
// edited config; uninstall removes the binary and the unit only.
func TestInstallLayout(t *testing.T) {
	if testing.Short() {
		t.Skip("builds with make")
	}
	root := repoRoot(t)
	dest := t.TempDir()
	makeInstall(t, "install", dest)

	bin := filepath.Join(dest, "usr/local/bin/fluxgate")
	wantFile(t, bin, 0o755)
	if out, err := exec.Command(bin, "version").CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "fluxgate ") {
		t.Errorf("installed %s version = %q, %v", bin, out, err)
	}
	unitPath := filepath.Join(dest, "lib/systemd/system/fluxgate.service")
	unit := wantFile(t, unitPath, 0o644)
	src, err := os.ReadFile(filepath.Join(root, "scripts/fluxgate.service"))
	if err != nil {
		t.Fatal(err)
	}
	if unit != string(src) {
		t.Errorf("%s differs from scripts/fluxgate.service with the default PREFIX", unitPath)
	}
	cfgPath := filepath.Join(dest, "etc/fluxgate/config.yaml")
	cfg := wantFile(t, cfgPath, 0o644)
	if def, _ := os.ReadFile(filepath.Join(root, "config/config.yaml")); cfg != string(def) {
		t.Errorf("%s is not config/config.yaml", cfgPath)
	}
	for _, dir := range []string{"usr/local/bin", "lib/systemd/system", "etc/fluxgate"} {
		if fi, err := os.Stat(filepath.Join(dest, dir)); err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("directory %s: %v, %v; want mode 0755", dir, fi.Mode(), err)
		}
	}

	// An operator's config survives a reinstall (an upgrade).
	edited := cfg + "# edited by the operator\n"
	if err := os.WriteFile(cfgPath, []byte(edited), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(cfgPath, 0o640); err != nil {
		t.Fatal(err)
	}
	if out := makeInstall(t, "install", dest); !strings.Contains(out, "keeping existing") {
		t.Errorf("second install did not say it kept the config:\n%s", out)
	}
	if got := wantFile(t, cfgPath, 0o640); got != edited {
		t.Errorf("second install overwrote the operator's config")
	}

	makeInstall(t, "uninstall", dest)
	wantGone(t, bin)
	wantGone(t, unitPath)
	if got := wantFile(t, cfgPath, 0o640); got != edited {
		t.Errorf("uninstall changed the config")
	}
}

// TestInstallPrefix: another PREFIX and SYSCONFDIR are written into the
// installed unit.
func TestInstallPrefix(t *testing.T) {
	if testing.Short() {
		t.Skip("builds with make")
	}
	dest := t.TempDir()
	makeInstall(t, "install", dest, "PREFIX=/usr", "SYSCONFDIR=/etc/opt")
	wantFile(t, filepath.Join(dest, "usr/bin/fluxgate"), 0o755)
	wantFile(t, filepath.Join(dest, "etc/opt/fluxgate/config.yaml"), 0o644)
	u := unitValues(t, filepath.Join(dest, "lib/systemd/system/fluxgate.service"))
	if got := u["ExecStart"]; len(got) != 1 || got[0] != "/usr/bin/fluxgate run -c /etc/opt/fluxgate/config.yaml" {
		t.Errorf("ExecStart=%q; want /usr/bin/fluxgate run -c /etc/opt/fluxgate/config.yaml", got)
	}
	if got := strings.Join(u["EnvironmentFile"], " "); got != "-/etc/opt/fluxgate/fluxgate.env" {
		t.Errorf("EnvironmentFile=%q; want -/etc/opt/fluxgate/fluxgate.env", got)
	}
}
