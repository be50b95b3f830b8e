package ctl

import "errors"

// ErrMsgTooLarge is returned by Recv for a message longer than MaxMsgBytes.
var ErrMsgTooLarge = errors.New("ctl: message too large")

// ErrBadMsg is returned by Recv for a line that is not a valid message.
var ErrBadMsg = errors.New("ctl: malformed message")
