package route

import "errors"

// ErrBadPath reports a request path that does not start with "/" or holds
// a malformed percent-escape.
var ErrBadPath = errors.New("route: bad path")

// ErrBadMatch reports a route whose match_path does not hold exactly one of
// prefix and exact, or whose path no normalised request path could match.
var ErrBadMatch = errors.New("route: bad match path")

// ErrBadMethod reports a method name that is not an HTTP token.
var ErrBadMethod = errors.New("route: bad method")

// ErrTooManyMethods reports a table naming more distinct methods than a
// route's method set can hold (63).
var ErrTooManyMethods = errors.New("route: too many distinct methods")

// ErrBadRewrite reports a rewrite_path that is neither empty nor a path
// starting with "/", or that holds "?", "#" or a malformed percent-escape.
var ErrBadRewrite = errors.New("route: bad rewrite path")
