package notify

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/outbox"
)

// A webhook's URL often is its credential: its path and query stay out of
// every error, which reaches the log, the outbox and timelines.
func TestWebhookErrorsKeepTheURLsSecretOut(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // nothing listens there now
	tests := []struct{ name, url string }{
		{"unreachable", base + "/services/T0/B0/s3cretpath?token=s3cretquery"},
		{"unparsable", "http://[::1%zz]/s3cretpath?token=s3cretquery"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := NewWebhook(tt.url, "", &http.Client{Timeout: time.Second}, time.Now).Deliver(context.Background(),
				outbox.Message{Kind: "incident.triggered", IdempotencyKey: "k", Payload: []byte("{}")})
			if err == nil {
				t.Fatal("delivered to nothing")
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error shows the URL's secret: %v", err)
			}
		})
	}
}
