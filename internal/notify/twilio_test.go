package notify

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"testing"

	"github.com/oncallbot/bot/internal/outbox"
)

func TestTwilioSignatureMatchesTwiliosOwnVector(t *testing.T) {
	b, err := os.ReadFile("testdata/voice_gather_params_twilio_python_request_validator.json")
	if err != nil {
		t.Fatal(err)
	}
	var params map[string]string
	if err := json.Unmarshal(b, &params); err != nil {
		t.Fatal(err)
	}
	form := url.Values{}
	for k, v := range params {
		form.Set(k, v)
	}
	const u, token, want = "https://mycompany.com/myapp.php?foo=1&bar=2", "12345", "RSOYDt4T1cUTdK1PDd93/VVr8B8="
	if got := TwilioSignature(token, u, form); got != want {
		t.Fatalf("signature = %s, want %s", got, want)
	}
	if !ValidTwilioSignature(token, u, form, want) {
		t.Fatal("the published signature does not validate")
	}
	form.Set("Digits", "1")
	if ValidTwilioSignature(token, u, form, want) {
		t.Fatal("a changed parameter still validates")
	}
	if ValidTwilioSignature(token, "https://mycompany.com/other.php", url.Values{}, want) {
		t.Fatal("another URL validates")
	}
}

func TestParseSMS(t *testing.T) {
	cases := []struct {
		in   string
		verb string
		id   int64
		ok   bool
	}{
		{"42 ack", "ack", 42, true},
		{"ack 42", "ack", 42, true},
		{"ACK #42", "ack", 42, true},
		{"  42   resolve ", "resolve", 42, true},
		{"esc 7", "escalate", 7, true},
		{"ack", "ack", 0, true},
		{"r", "resolve", 0, true},
		{"42", "", 0, false},
		{"please ack 42", "", 0, false},
		{"42 snooze", "", 0, false},
		{"", "", 0, false},
		{"99999999999999999999 ack", "", 0, false},
	}
	for _, c := range cases {
		verb, id, ok := ParseSMS(c.in)
		if verb != c.verb || id != c.id || ok != c.ok {
			t.Errorf("ParseSMS(%q) = %q %d %v, want %q %d %v", c.in, verb, id, ok, c.verb, c.id, c.ok)
		}
	}
}

func TestTwilioErrorsAreClassified(t *testing.T) {
	ok, _ := os.ReadFile("testdata/messages_create_response_twilio_python_test.json")
	cases := []struct {
		code      int
		body      string
		header    string
		wantSID   string
		permanent bool
		after     bool
	}{
		{201, string(ok), "", "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false, false},
		{400, `{"code":21211,"message":"The 'To' number is not a valid phone number.","status":400}`, "", "", true, false},
		{401, `{"code":20003,"message":"Authenticate","status":401}`, "", "", true, false},
		{429, `{"code":20429,"message":"Too Many Requests","status":429}`, "7", "", false, true},
		{503, `{}`, "", "", false, false},
	}
	for _, c := range cases {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if c.header != "" {
				w.Header().Set("Retry-After", c.header)
			}
			w.WriteHeader(c.code)
			w.Write([]byte(c.body))
		}))
		tw := NewTwilio(TwilioOptions{BaseURL: srv.URL, AccountSID: "AC1", AuthToken: "t", From: "+15005550006"})
		sid, err := tw.SendSMS(context.Background(), "+15005550010", "hi")
		srv.Close()
		if sid != c.wantSID {
			t.Errorf("%d: sid %q, want %q", c.code, sid, c.wantSID)
		}
		isPerm := outbox.IsPermanent(err)
		var ra *outbox.RetryAfterError
		hasAfter := errors.As(err, &ra)
		if isPerm != c.permanent || hasAfter != c.after {
			t.Errorf("%d: err %v: permanent %v retry-after %v, want %v %v", c.code, err, isPerm, hasAfter, c.permanent, c.after)
		}
	}
}
