// Package ctl is the contract between the supervisor and its worker
// processes: which file descriptors and environment variables a worker
// inherits, and the messages both sides exchange on the control channel.
//
// File descriptors of a worker (exec.Cmd.ExtraFiles order):
//
//	3                     FDCtl: one end of a unix stream socketpair, the control channel
//	4                     FDLimiterTable: the host rate-limit table, a sealed memfd of
//	                      LimiterTableBytes (closed when EnvLimiterTable is not "1")
//	5 .. 5+N-1            FDFirstListener..: N SO_REUSEPORT listening TCP sockets (N from EnvListeners)
//
// Environment of a worker (besides the supervisor's own environment):
//
//	FLUXGATE_WORKER=1             worker mode (see IsWorker)
//	FLUXGATE_WORKER_GEN=G         generation number
//	FLUXGATE_WORKER_SLOT=S        slot number within the generation
//	FLUXGATE_WORKER_LISTENERS=N   number of inherited listening sockets
//	FLUXGATE_WORKER_LIMITER_TABLE=1  fd 4 is the host rate-limit table
//	GOMAXPROCS=P                  max(1, CPUs / workers)
//
// Control channel: newline-delimited JSON objects (Msg), at most
// MaxMsgBytes each. The supervisor sends KindConfig first; the worker
// answers KindReady once it serves, or KindFailed and exits. Afterwards the
// supervisor sends KindStatus at every host state change, and finally
// KindDrain or KindStop. End of file on the channel means the supervisor is
// gone: the worker drains and exits.
//
// Invariants: the listening sockets belong to the supervisor for its whole
// life; a worker only ever closes its own copies. Sockets are handed over in
// non-blocking mode and nobody switches them to blocking mode
// (golang/go#29277), since the mode is shared by every process holding them.
package ctl

// File descriptor numbers in a worker process.
const (
	// FDCtl is the control channel (a unix stream socket).
	FDCtl = 3
	// FDLimiterTable is the host's shared-memory rate-limit table.
	FDLimiterTable = 4
	// FDFirstListener is the first inherited listening socket.
	FDFirstListener = 5
)

// LimiterTableBytes is the size of the host rate-limit table the
// supervisor creates (worker/ratelimit.DefaultTableBytes). One table serves
// every worker of every generation, so local limits survive reloads.
const LimiterTableBytes = 16 << 20

// Environment variables set by the supervisor for its workers.
const (
	// EnvWorker is "1" in a worker process.
	EnvWorker = "FLUXGATE_WORKER"
	// EnvGen is the worker's generation number.
	EnvGen = "FLUXGATE_WORKER_GEN"
	// EnvSlot is the worker's slot number.
	EnvSlot = "FLUXGATE_WORKER_SLOT"
	// EnvListeners is the number of inherited listening sockets.
	EnvListeners = "FLUXGATE_WORKER_LISTENERS"
	// EnvLimiterTable is "1" when FDLimiterTable is open.
	EnvLimiterTable = "FLUXGATE_WORKER_LIMITER_TABLE"
)

// IsWorker reports whether the process was started by a supervisor as a
// worker (like fasthttp's prefork.IsChild).
func IsWorker(getenv func(string) string) bool { return getenv(EnvWorker) == "1" }
