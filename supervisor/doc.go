// Package supervisor is fluxgate's process manager (the master process): it
// owns the listening sockets, runs generations of worker processes (the same
// binary in worker mode, see package ctl for the fd/env/message contract),
// and handles reloads, binary upgrades, crashes and shutdown.
//
// Invariants:
//   - One goroutine (the owner loop in Run) owns all fleet state: workers,
//     generations, sockets, timers, status. Other goroutines (one control
//     reader and one waiter per worker, the config watcher, the upgrade
//     pipe reader) only post events to it, and Run waits for all of them.
//   - The supervisor owns every listening socket for its whole life and
//     never accepts on it. Slot i always gets socket i; a new generation's
//     worker inherits the same sockets as the old one, so the accept queues
//     are never dropped. The socket set never shrinks: with fewer workers a
//     worker gets several sockets (i ≡ slot mod workers). Sockets of a
//     listen address no longer configured are closed after a successful
//     reload (their connections could never be served anyway); that is the
//     only time a socket is closed before shutdown.
//   - Sockets are kept non-blocking (golang/go#29277): the supervisor holds
//     each socket as an os.File made by os.NewFile from a duplicated fd, so
//     os.File.Fd (called by exec for ExtraFiles) never switches the shared
//     file description to blocking mode.
//   - A new config is parsed and validated without binding anything; the
//     data-plane build runs in the new workers, and a generation that does
//     not become ready within server.ready_timeout_secs is stopped while
//     the old one keeps serving. At most one reload runs at a time; requests
//     arriving meanwhile are coalesced into one.
//   - Old workers are told to drain only after every worker of the new
//     generation is ready, and are killed shortly after
//     server.shutdown_grace_period_secs if still alive.
//   - Workers are spawned from the owner goroutine, which is locked to its
//     OS thread for its whole life, so the workers' Pdeathsig (SIGTERM) fires
//     only when the supervisor exits. Workers also drain on control-channel
//     EOF.
//   - The supervisor never exits because a worker did: a worker of the live
//     generation that dies is restarted in its slot with exponential backoff
//     (100 ms doubling to 10 s, reset after 30 s up).
//   - One host rate-limit table (a sealed memfd) is created at start and
//     handed to every worker of every generation, and to the next supervisor
//     on a binary upgrade, so local limits survive reloads and upgrades.
//   - Host metrics are a sum: on a worker's request the supervisor asks every
//     ready worker (draining ones included) for its series and sums them
//     series by series; a worker that does not answer within 2 s counts with
//     its last snapshot. Counter-like series (_total, _count, _sum, _bucket)
//     of exited workers are kept in a retired total, and a binary upgrade
//     hands the totals to the new supervisor, so host counters never go
//     backwards. Per-process series carry a worker label and are taken from
//     the live generation only.
//
// Changes that take effect on reload: everything in the config, including
// server.workers and server.listen_addr (new sockets are opened for a new
// address; the old address stops being served once the old generation has
// drained). Environment variables (JWT_SECRET, REDIS_URL, ...) are the
// supervisor's own: a SIGUSR2 upgrade inherits them unchanged, so changing
// them takes a restart.
package supervisor
