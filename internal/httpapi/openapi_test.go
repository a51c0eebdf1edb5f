package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
)

// Issue 10: the OpenAPI document and the router agree both ways: no route
// undocumented, no documented route missing, and each operation names the
// scope the route checks.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	f := newFixture(t)
	r := f.api("GET", "/api/v1/openapi.json", "")
	if r.code != http.StatusOK {
		t.Fatalf("GET /api/v1/openapi.json = %d %s", r.code, r.body)
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			XScope string `json:"x-scope"`
		} `json:"paths"`
	}
	if err := json.Unmarshal([]byte(r.body), &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("not an OpenAPI 3 document: %v", err)
	}
	documented := map[string]string{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			documented[strings.ToUpper(method)+" /api/v1"+path] = op.XScope
		}
	}
	routed := map[string]bool{}
	err := chi.Walk(f.handler.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if strings.HasPrefix(route, "/api/v1/") {
			routed[method+" "+route] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for k := range routed {
		scope, ok := documented[k]
		if !ok {
			t.Errorf("%s is routed but not documented", k)
			continue
		}
		if want, decided := routeScopes[k]; decided && strings.Split(want, ":")[0] != scope {
			t.Errorf("%s: documented scope %q, the route checks %q", k, scope, want)
		}
	}
	for k := range documented {
		if !routed[k] {
			t.Errorf("%s is documented but not routed", k)
		}
	}
	if len(routed) < 50 {
		t.Errorf("only %d routes walked", len(routed))
	}
}
