// Package redistest starts real redis-server processes for tests and
// benchmarks: standalone on a unix socket or a loopback TCP port, a Redis
// Cluster of masters, or a Sentinel watching a master. It speaks just
// enough RESP to send a command and read a simple, integer or bulk reply.
//
// It is imported only by _test.go files; the data plane never starts
// processes.
//
// Invariants:
//
//   - Every process started is stopped by PID (SIGCONT, then SIGKILL, then
//     waited for) at t.Cleanup, whether the test passed, failed or skipped;
//     its output is logged only when the test failed.
//   - The system Redis is never used and no port is assumed free: a unix
//     socket lives in t.TempDir() (or, when that path would exceed the
//     107-byte socket limit, in a private directory removed at cleanup); a
//     TCP server gets a loopback port picked free just before, and is
//     started again on another port when redis reports the address in use.
//   - A Server is returned ready: it answered PING (a cluster node also
//     reports cluster_state:ok, a sentinel a quorum for its master) within
//     a deadline (10 s; 30 s for redis-cli --cluster create, 20 s for a
//     cluster node to converge) or the test fails with redis's output.
//   - Waiting is polling a condition on a ticker with a deadline; nothing
//     sleeps to order events.
//   - A test is skipped, not failed, when redis-server (or redis-cli, for a
//     cluster) is not on PATH.
//
// A Server's methods are called from the test goroutine, except TryDo,
// which any goroutine may call.
package redistest
