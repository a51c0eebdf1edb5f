package telegram

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestInboundChecksTheSecretToken(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	chatter := `{"update_id":1,"message":{"message_id":5,"date":1,"chat":{"id":-100,"type":"supergroup"},"text":"morning all"}}`
	tests := []struct {
		name     string
		secret   string // configured
		header   string // sent; "-" for none
		body     string
		wantCode int
		wantBody string
	}{
		{"right token, plain chatter is ignored", "s3cret", "s3cret", chatter, 200, ""},
		{"no token", "s3cret", "-", chatter, 401, "Secret-Token"},
		{"wrong token", "s3cret", "s3cre", chatter, 401, "Secret-Token"},
		{"an empty configured secret admits nobody", "", "", chatter, 401, "Secret-Token"},
		{"right token, body not JSON", "s3cret", "s3cret", "{", 400, "not a telegram update"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewInbound(tt.secret, nil, nil, nil, log)
			req := httptest.NewRequest(http.MethodPost, "/telegram/webhook", strings.NewReader(tt.body))
			if tt.header != "-" {
				req.Header.Set("X-Telegram-Bot-Api-Secret-Token", tt.header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantCode || !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("got %d %q, want %d containing %q", rec.Code, rec.Body.String(), tt.wantCode, tt.wantBody)
			}
		})
	}
}
