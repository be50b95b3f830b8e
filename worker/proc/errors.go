package proc

import "errors"

// ErrNoListeners means the supervisor handed over no listening socket.
var ErrNoListeners = errors.New("worker: no inherited listeners")

// ErrNoCtl means the control channel fd is missing.
var ErrNoCtl = errors.New("worker: no control channel")

// ErrCtlTimeout means the supervisor sent no config in time.
var ErrCtlTimeout = errors.New("worker: control channel timeout")

// ErrProtocol means the supervisor broke the control protocol.
var ErrProtocol = errors.New("worker: control protocol violation")

// ErrServeEnded means a listener stopped serving although nobody asked.
var ErrServeEnded = errors.New("worker: serve ended unexpectedly")

// ErrReplyTimeout means the supervisor did not answer a request (host
// metrics, key set) in time.
var ErrReplyTimeout = errors.New("worker: supervisor reply timeout")
