// Package route is fluxgate's compiled route table: it normalises request
// paths and picks the route for a (path, method) pair as SPEC §4 describes.
//
// Paths. Normalize turns a raw request path (no query) into the form routes
// are matched on: percent-encoded unreserved characters (ALPHA DIGIT - . _ ~)
// are decoded, every other escape is kept with upper-case hex (so "%2F" never
// becomes a separator), and RFC 3986 dot-segments are removed without ever
// climbing above "/". Empty segments ("//") are kept. Other bytes are copied
// as they are. A path that does not start with "/" or holds a malformed
// escape is ErrBadPath. Normalize is idempotent.
//
// Selection. Lookup is given a normalised path and the request method. The
// candidate routes for a path are, most specific first: the exact routes for
// the path, then the prefix routes from the longest prefix to the shortest;
// routes with the same path and kind keep their config order. A prefix is a
// plain string prefix, as in Envoy and NGINX: "/api" matches "/api/x" and also
// "/apifoo". The route chosen is the first candidate whose methods accept the
// request method, so a more specific route that does not take the method
// lets the request fall through to a less specific one. When candidates
// exist but none accepts the method the result is MethodNotAllowed, with an
// Allow value listing the union of the candidates' methods (sorted,
// ", "-joined); when there is no candidate it is NotFound.
//
// Methods. A route without methods accepts every method, including
// extension methods. A route listing GET also accepts HEAD. Method names are
// compared case-sensitively, as HTTP requires: "get" is not "GET". An
// extension method ("PURGE") is accepted by routes that list it and by
// routes without a method list.
//
// Rewrites. AppendRewrite gives the path to forward: the request path when
// the route has no rewrite_path; for an exact route the rewrite replaces the
// whole path; for a prefix route it replaces the matched prefix, keeping a
// single "/" at the junction (see Route.AppendRewrite).
//
// Invariants:
//   - A Table never changes after Compile and is safe for concurrent use.
//   - Lookup, Normalize and AppendRewrite do not allocate (when dst has
//     room) and do not panic on any input.
//   - Lookup's cost grows with the length of the path, not with the number
//     of routes: exact paths are found in a map and prefixes by one walk
//     down a compressed byte trie.
//   - Route paths are kept in normal form (Compile canonicalises escapes and
//     refuses paths that no normalised request could match), so routes are
//     matched on the same form Normalize produces.
package route
