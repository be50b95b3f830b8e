package redistest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// StartCluster starts n (at least 3) redis-server processes on TCP ports,
// joins them as the masters of one Redis Cluster (redis-cli --cluster
// create, no replicas) and returns them once each reports
// cluster_state:ok. It skips the test when redis-cli is not on PATH.
func StartCluster(t testing.TB, n int) []*Server {
	t.Helper()
	if n < 3 {
		t.Fatalf("redistest: a cluster of %d masters; redis-cli wants at least 3", n)
	}
	cli := lookPath(t, "redis-cli")
	nodes := make([]*Server, 0, n)
	args := []string{"--cluster", "create"}
	for range n {
		s := StartTCP(t, true, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
		nodes = append(nodes, s)
		args = append(args, s.Addr())
	}
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), createTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, s := range nodes {
		if !poll(clusterTimeout, func() bool {
			info, err := s.TryDo("CLUSTER", "INFO")
			return err == nil && strings.Contains(info, "cluster_state:ok")
		}) {
			t.Fatalf("redistest: cluster node %s: no cluster_state:ok within %v", s.Addr(), clusterTimeout)
		}
	}
	return nodes
}

// StartSentinel starts a Sentinel (redis-server --sentinel) on a TCP port
// monitoring master, a TCP Server, under the name set with a quorum of 1,
// and returns it once SENTINEL CKQUORUM set answers OK. Clients reach the
// master through it: redis-sentinel://<Addr>/<set>.
func StartSentinel(t testing.TB, master *Server, set string) *Server {
	t.Helper()
	if master.sock != "" {
		t.Fatal("redistest: a sentinel monitors a TCP master, not a unix socket")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf") // sentinel rewrites it
	line := "sentinel monitor " + set + " 127.0.0.1 " + strconv.Itoa(master.port) + " 1\n"
	if err := os.WriteFile(conf, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startTCP(t, dir, conf, false, "--sentinel")
	if !poll(readyTimeout, func() bool {
		reply, err := s.TryDo("SENTINEL", "ckquorum", set)
		return err == nil && strings.HasPrefix(reply, "OK")
	}) {
		t.Fatalf("redistest: sentinel %s does not know master %s within %v", s.Addr(), set, readyTimeout)
	}
	return s
}
