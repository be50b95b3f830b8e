package route_test

import (
	"fmt"

	"github.com/fluxgate/fluxgate/config"
	"github.com/fluxgate/fluxgate/worker/route"
)

func Example() {
	v2 := "/v2"
	tab, err := route.Compile([]config.Route{
		{ID: "api", MatchPath: config.MatchPath{Prefix: "/api"}, Methods: []string{"GET", "POST"}, RewritePath: &v2},
		{ID: "health", MatchPath: config.MatchPath{Exact: "/api/health"}, Methods: []string{"GET"}},
	})
	if err != nil {
		panic(err)
	}
	buf := make([]byte, 0, 256)
	for _, req := range []struct{ method, path string }{
		{"GET", "/public/../api/%75sers"},
		{"HEAD", "/api/health"},
		{"POST", "/api/health"},
		{"DELETE", "/api/users"},
		{"GET", "/other"},
	} {
		path, err := route.Normalize(buf[:0], []byte(req.path))
		if err != nil {
			fmt.Println(req.method, req.path, "→ 400")
			continue
		}
		r, allow, res := tab.Lookup(path, []byte(req.method))
		switch res {
		case route.Found:
			fmt.Printf("%s %s → %s, forward %s\n", req.method, req.path, r.ID, r.AppendRewrite(nil, path))
		case route.MethodNotAllowed:
			fmt.Printf("%s %s → 405, Allow: %s\n", req.method, req.path, allow)
		default:
			fmt.Printf("%s %s → 404\n", req.method, req.path)
		}
	}
	// Output:
	// GET /public/../api/%75sers → api, forward /v2/users
	// HEAD /api/health → health, forward /api/health
	// POST /api/health → api, forward /v2/health
	// DELETE /api/users → 405, Allow: GET, HEAD, POST
	// GET /other → 404
}
