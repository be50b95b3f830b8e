package trace

import "errors"

// ErrEnv means an OpenTelemetry environment variable has a value this
// package does not accept (the wrapping error names the variable).
var ErrEnv = errors.New("trace: invalid OpenTelemetry variable")

// ErrOptions means an Options field is out of range.
var ErrOptions = errors.New("trace: invalid options")
