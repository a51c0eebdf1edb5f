package discord

import (
	"crypto/ed25519"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestInboundAuthenticatesEveryRequest(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, _ := ed25519.GenerateKey(nil)
	now := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	h, err := NewInbound(hex.EncodeToString(pub), func() time.Time { return now }, nil, nil,
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ping := `{"type":1,"id":"1","application_id":"2","token":"t","version":1}`
	autocomplete := `{"type":4,"id":"1","data":{"id":"9","name":"oncall","type":1,"options":[]}}`
	sign := func(key ed25519.PrivateKey, ts, body string) string {
		return hex.EncodeToString(ed25519.Sign(key, []byte(ts+body)))
	}
	at := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).Unix(), 10) }

	tests := []struct {
		name     string
		ts       string
		sig      func(ts string) string
		body     string
		wantCode int
		wantBody string
	}{
		{"signed ping gets pong", at(0), func(ts string) string { return sign(priv, ts, ping) }, ping, 200, `"type":1`},
		{"no timestamp", "", func(ts string) string { return sign(priv, ts, ping) }, ping, 401, "X-Signature-Timestamp"},
		{"six minutes old is a replay", at(-6 * time.Minute), func(ts string) string { return sign(priv, ts, ping) }, ping, 401, "stale"},
		{"six minutes ahead", at(6 * time.Minute), func(ts string) string { return sign(priv, ts, ping) }, ping, 401, "stale"},
		{"four minutes old is fine", at(-4 * time.Minute), func(ts string) string { return sign(priv, ts, ping) }, ping, 200, `"type":1`},
		{"another key's signature", at(0), func(ts string) string { return sign(otherKey, ts, ping) }, ping, 401, "signature"},
		{"signature of another body", at(0), func(ts string) string { return sign(priv, ts, `{"type":1}`) }, ping, 401, "signature"},
		{"signature not hex", at(0), func(string) string { return "zz" }, ping, 401, "signature"},
		{"signed but not JSON", at(0), func(ts string) string { return sign(priv, ts, "{not json") }, "{not json", 400, "not an interaction"},
		{"signed autocomplete is refused", at(0), func(ts string) string { return sign(priv, ts, autocomplete) }, autocomplete, 400, "unsupported interaction type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/discord/interactions", strings.NewReader(tt.body))
			if tt.ts != "" {
				req.Header.Set("X-Signature-Timestamp", tt.ts)
			}
			req.Header.Set("X-Signature-Ed25519", tt.sig(tt.ts))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantCode || !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("got %d %q, want %d containing %q", rec.Code, rec.Body.String(), tt.wantCode, tt.wantBody)
			}
		})
	}
}

func TestNewInboundRejectsBadKeys(t *testing.T) {
	for _, key := range []string{"abc", strings.Repeat("ab", 31), strings.Repeat("zz", 32)} {
		if _, err := NewInbound(key, time.Now, nil, nil, nil); err == nil {
			t.Errorf("public key %q accepted", key)
		}
	}
}

func TestInboundWithoutKeyRefusesHTTP(t *testing.T) {
	// With the gateway alone there is no key: nothing that comes over
	// HTTP can be verified, so nothing is taken.
	h, err := NewInbound("", time.Now, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("no key refused: %v", err)
	}
	req := httptest.NewRequest(http.MethodPost, "/discord/interactions", strings.NewReader(`{"type":1}`))
	req.Header.Set("X-Signature-Timestamp", strconv.FormatInt(time.Now().Unix(), 10))
	req.Header.Set("X-Signature-Ed25519", strings.Repeat("00", ed25519.SignatureSize))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotFound {
		t.Fatalf("got %d %q, want 404", rec.Code, rec.Body.String())
	}
}
