package supervisor

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// writePIDFile atomically replaces path with pid (write a temporary file in
// the same directory, then rename).
func writePIDFile(path string, pid int) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	_, werr := tmp.WriteString(strconv.Itoa(pid) + "\n")
	cerr := tmp.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp.Name(), 0o644)
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("pid file: %w", werr)
	}
	return nil
}

// removePIDFileIf removes path if it still names pid.
func removePIDFileIf(path string, pid int) {
	b, err := os.ReadFile(path)
	if err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(pid) {
		os.Remove(path)
	}
}

func (s *supervisor) pidFile() string {
	if s.live == nil {
		return ""
	}
	return s.live.cfg.Server.PIDFile
}

// firstReady runs once when the first generation is live: the pid file names
// this supervisor, and a previous supervisor (binary upgrade) is told to go.
func (s *supervisor) firstReady() {
	if path := s.pidFile(); path != "" {
		if err := writePIDFile(path, os.Getpid()); err != nil {
			s.own.Error("pid file", "err", err.Error())
		} else {
			s.pidWritten = true
		}
	}
	if s.upgradeReady != nil {
		if _, err := s.upgradeReady.Write([]byte{'1'}); err != nil {
			s.own.Error("telling the previous supervisor", "err", err.Error())
		}
		s.upgradeReady.Close()
		s.upgradeReady = nil
	}
}

func (s *supervisor) removePIDFile() {
	if path := s.pidFile(); path != "" && s.pidWritten {
		removePIDFileIf(path, os.Getpid())
	}
}
