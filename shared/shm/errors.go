package shm

import "errors"

// ErrSize reports a region size that is zero, negative or not mappable.
var ErrSize = errors.New("shm: invalid size")
