// Package server is fluxgate's data plane: it owns a fasthttp.Server, builds
// one handler chain per route (route → auth → rate limit → proxy) from a
// validated config, and serves it on listeners it is given.
//
// Invariants:
//   - A Server is built once from one config and never reloads; a new config
//     means a new Server (in a new worker process).
//   - It knows nothing of processes, signals or sockets' origin: the caller
//     hands it listeners and calls Drain or Shutdown.
//   - Every error the gateway itself answers goes through one writer with
//     the JSON body of SPEC §4.
package server
