package httpapi

import (
	"net/http"
	"testing"

	"github.com/oncallbot/bot/internal/config"
)

// Reload puts new integrations, tokens and scopes in force for the next
// request.
func TestReloadSwapsIntegrationsAndTokens(t *testing.T) {
	f := newFixture(t)
	if r := f.do("GET", "/api/v1/incidents", "new-api-token-0123456789", ""); r.code != http.StatusUnauthorized {
		t.Fatalf("a token not yet configured = %d", r.code)
	}
	f.server.Reload(&config.Config{
		Integrations: []config.Integration{{Name: "zabbix", Format: "zabbix", Token: "zbx-token-0123456789"}},
		APITokens:    []config.APIToken{{Name: "reader", Token: "new-api-token-0123456789", Scopes: []string{"read"}}},
	})
	cases := []struct {
		name, method, path, token string
		want                      int
	}{
		{"the new token reads", "GET", "/api/v1/incidents", "new-api-token-0123456789", http.StatusOK},
		{"within its scope only", "POST", "/api/v1/incidents/1/ack", "new-api-token-0123456789", http.StatusForbidden},
		{"the removed token is refused", "GET", "/api/v1/incidents", apiToken, http.StatusUnauthorized},
		{"the removed integration is unknown", "POST", "/hooks/generic", "gen-secret", http.StatusNotFound},
		{"the new integration authenticates", "POST", "/hooks/zabbix", "wrong", http.StatusUnauthorized},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if r := f.do(c.method, c.path, c.token, `{}`); r.code != c.want {
				t.Errorf("= %d %s, want %d", r.code, r.body, c.want)
			}
		})
	}
	if r := f.do("POST", "/hooks/zabbix", "zbx-token-0123456789", `{"x":1}`); r.code == http.StatusUnauthorized || r.code == http.StatusNotFound {
		t.Errorf("the new integration with its token = %d %s", r.code, r.body)
	}
}
