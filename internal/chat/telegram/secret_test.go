package telegram

import (
	"crypto/sha256"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The webhook's secret token is kept and compared as SHA-256 hashes, so a
// guess of any length is compared over the same 32 bytes: its timing
// tells nothing of the token's length. Only the token itself passes.
func TestWebhookSecretIsComparedAsHashes(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	const secret = "s3cret-token"
	h := NewInbound(secret, nil, nil, nil, log)
	if h.secret != sha256.Sum256([]byte(secret)) {
		t.Fatal("the inbound does not keep the secret as its SHA-256")
	}
	tests := []struct {
		name  string
		guess string
		want  int
	}{
		{"the token", secret, http.StatusOK},
		{"a prefix", "s3cret", http.StatusUnauthorized},
		{"one byte short", secret[:len(secret)-1], http.StatusUnauthorized},
		{"one byte more", secret + "x", http.StatusUnauthorized},
		{"same length, one byte off", "s3cret-tokem", http.StatusUnauthorized},
		{"other case", strings.ToUpper(secret), http.StatusUnauthorized},
		{"much longer", strings.Repeat(secret, 100), http.StatusUnauthorized},
		{"its hash", string(h.secret[:]), http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/telegram/webhook",
				strings.NewReader(`{"update_id":1,"message":{"message_id":5,"date":1,"chat":{"id":-100,"type":"supergroup"},"text":"morning"}}`))
			req.Header.Set("X-Telegram-Bot-Api-Secret-Token", tt.guess)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("token %q: got %d %q, want %d", tt.guess, rec.Code, rec.Body.String(), tt.want)
			}
		})
	}
}
