// Package config loads and validates fluxgate's YAML configuration.
//
// Invariants:
//   - A *Config returned by Load or Parse is valid and complete: every
//     default is filled, methods are upper-case, enums and log levels
//     lower-case, and every auth policy without a jwks_url holds its key in
//     Key. Consumers never re-validate or re-default.
//   - Invalid input never yields a *Config; it yields Errors, all problems at
//     once, each positioned as FILE:LINE:COL with its YAML path, in file
//     order. Error text never contains key material.
//   - Decoding is strict: unknown fields, wrong types and unresolved aliases
//     are errors. A null value means unset.
//   - Parse never panics, whatever the input, and its work is bounded
//     (nesting depth and alias expansion are capped).
//   - The package keeps no global state and imports nothing of fluxgate;
//     the environment is read only through the getenv function passed in.
package config
