package e2e

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// oNonblock is O_NONBLOCK as /proc/PID/fdinfo prints flags (octal).
const oNonblock = 0o4000

// listenerFlags returns the file status flags of every fd of pid that is
// a listening TCP socket on port.
func listenerFlags(pid, port int) (map[int]uint64, error) {
	inodes, err := listenInodes(port)
	if err != nil {
		return nil, err
	}
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[int]uint64{}
	for _, e := range ents {
		link, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil || !strings.HasPrefix(link, "socket:[") {
			continue
		}
		if !inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] {
			continue
		}
		fd, _ := strconv.Atoi(e.Name())
		info, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%d", pid, fd))
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(string(info), "\n") {
			if v, ok := strings.CutPrefix(line, "flags:"); ok {
				f, err := strconv.ParseUint(strings.TrimSpace(v), 8, 64)
				if err != nil {
					return nil, fmt.Errorf("fdinfo %d: %w", fd, err)
				}
				out[fd] = f
			}
		}
	}
	return out, nil
}

// listenInodes returns the inodes of IPv4 sockets listening on port.
func listenInodes(port int) (map[string]bool, error) {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 10 || fs[3] != "0A" {
			continue
		}
		_, p, ok := strings.Cut(fs[1], ":")
		if n, err := strconv.ParseInt(p, 16, 32); ok && err == nil && int(n) == port {
			out[fs[9]] = true
		}
	}
	return out, sc.Err()
}

// limiterTable returns the link target and inode of a worker's fd 4 (the
// host rate-limit table, see shared/ctl).
func limiterTable(pid int) (string, uint64, error) {
	path := fmt.Sprintf("/proc/%d/fd/4", pid)
	link, err := os.Readlink(path)
	if err != nil {
		return "", 0, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", 0, err
	}
	return link, fi.Sys().(*syscall.Stat_t).Ino, nil
}
