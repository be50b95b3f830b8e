package ctl

// Status is the host-wide state a worker reports on /readyz. The supervisor
// pushes it to every worker whenever it changes; workers only display it.
type Status struct {
	// Ready is false from the moment the host starts shutting down.
	Ready bool `json:"ready"`
	// Generation is the number of the generation currently taking traffic.
	Generation int `json:"generation"`
	// Workers is the number of live workers in that generation.
	Workers int `json:"workers"`
	// LastReload describes the outcome of the latest reload attempt:
	// "none", "ok", "invalid_config" or "failed_generation".
	LastReload string `json:"last_reload"`
	// LastReloadError holds the error of a failed reload, "" otherwise.
	LastReloadError string `json:"last_reload_error,omitempty"`
	// LastReloadUnix is when the last reload attempt ended (Unix seconds).
	LastReloadUnix int64 `json:"last_reload_unix,omitempty"`
}
