package supervisor

import "errors"

// ErrGenerationFailed means a generation did not become ready in time or a
// worker of it exited before it was ready.
var ErrGenerationFailed = errors.New("supervisor: generation failed")

// ErrUpgradeInProgress means a binary upgrade was requested while one (or a
// reload) was already running.
var ErrUpgradeInProgress = errors.New("supervisor: upgrade already in progress")

// ErrUpgradeFailed means the new supervisor did not report ready in time.
var ErrUpgradeFailed = errors.New("supervisor: upgrade failed")

// ErrBadInheritedFDs means the upgrade fd list in the environment is malformed.
var ErrBadInheritedFDs = errors.New("supervisor: malformed inherited fd list")

// ErrForcedStop means a second stop signal ended the supervisor at once.
var ErrForcedStop = errors.New("supervisor: forced stop")
