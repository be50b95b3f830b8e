package config

import (
	"errors"
	"strconv"
	"strings"
)

// ErrInvalid matches (with errors.Is) every Errors value, so callers can tell
// a config that was read but is invalid from an I/O error.
var ErrInvalid = errors.New("config: invalid")

var (
	// errNotRegular is a key_file that is not a regular file.
	errNotRegular = errors.New("not a regular file")
	// errKeyTooLarge is a key_file larger than maxKeyFile.
	errKeyTooLarge = errors.New("larger than 1 MiB")
	// errParserPanic is a panic inside the YAML parser, which must not take
	// the process (or a reload) down.
	errParserPanic = errors.New("parser panicked on this input")
)

// Error is one configuration problem with its position in the file.
type Error struct {
	// File is the config path as given to Load or Parse.
	File string
	// Line and Col are 1-based.
	Line, Col int
	// Path is the YAML path, e.g. "routes[3].upstream"; "" for the document.
	Path string
	// Msg describes the problem. It never contains key material.
	Msg string
}

// Error formats e as "FILE:LINE:COL: yaml.path: message" (without the path
// part when Path is empty).
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	b.WriteByte(':')
	b.WriteString(strconv.Itoa(e.Line))
	b.WriteByte(':')
	b.WriteString(strconv.Itoa(e.Col))
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Is reports whether target is ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// Errors is every problem found in one config, in file order.
type Errors []*Error

// Error joins the problems with "\n".
func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Is reports whether target is ErrInvalid.
func (es Errors) Is(target error) bool { return target == ErrInvalid }
