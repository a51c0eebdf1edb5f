package notify

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/oncall"
	"github.com/oncallbot/bot/internal/outbox"
)

// smtpServer is a loopback SMTP server for the email tests: it offers
// STARTTLS when given a certificate (or answers STARTTLS with a set reply),
// takes AUTH PLAIN and one mail, and records every command it read and
// whether TLS protected it.
type smtpServer struct {
	ln       net.Listener
	cert     *tls.Certificate // nil: STARTTLS is not offered
	tlsReply string           // set: STARTTLS is offered and answered with it

	mu   sync.Mutex
	cmds []string // the verb, with "+tls" when read over TLS
	data []string // the mails taken
}

func newSMTPServer(t *testing.T, cert *tls.Certificate, tlsReply string) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln, cert: cert, tlsReply: tlsReply}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.session(c)
		}
	}()
	return s
}

func (s *smtpServer) Addr() string { return s.ln.Addr().String() }

func (s *smtpServer) seen() ([]string, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.cmds...), append([]string(nil), s.data...)
}

func (s *smtpServer) session(c net.Conn) {
	defer func() { c.Close() }()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	secure := false
	say := func(line string) { fmt.Fprintf(c, "%s\r\n", line) }
	say("220 test.smtp ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		verb := strings.ToUpper(strings.Fields(line + " x")[0])
		s.mu.Lock()
		if secure {
			s.cmds = append(s.cmds, verb+"+tls")
		} else {
			s.cmds = append(s.cmds, verb)
		}
		s.mu.Unlock()
		switch verb {
		case "EHLO":
			if !secure && (s.cert != nil || s.tlsReply != "") {
				say("250-test.smtp\r\n250-STARTTLS\r\n250 AUTH PLAIN")
			} else {
				say("250-test.smtp\r\n250 AUTH PLAIN")
			}
		case "STARTTLS":
			if s.tlsReply != "" {
				say(s.tlsReply)
				continue
			}
			say("220 2.0.0 go ahead")
			tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{*s.cert}})
			if err := tc.Handshake(); err != nil {
				return
			}
			c, r, secure = tc, bufio.NewReader(tc), true
		case "AUTH":
			say("235 2.7.0 authenticated")
		case "MAIL", "RCPT":
			say("250 ok")
		case "DATA":
			say("354 go on")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			s.mu.Lock()
			s.data = append(s.data, b.String())
			s.mu.Unlock()
			say("250 2.0.0 queued")
		case "QUIT":
			say("221 bye")
			return
		default:
			say("502 5.5.2 not implemented")
		}
	}
}

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (*tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test.smtp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func emailPage(t *testing.T) outbox.Message {
	t.Helper()
	p := oncall.Page{Key: "incident/1/cycle/0/step/0/pat/email", Method: "email",
		Person: config.Person{Name: "pat", Email: "pat@example.com"}, Incident: incident.Incident{ID: 1, Title: "Disk full"},
		Text: "[CRITICAL] #1 Disk full (team ops)."}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return outbox.Message{ID: 1, Kind: oncall.EventPage, IdempotencyKey: p.Key, Payload: b}
}

func has(cmds []string, verb string) bool {
	for _, c := range cmds {
		if strings.HasPrefix(c, verb) {
			return true
		}
	}
	return false
}

// With require_tls, a server that does not offer STARTTLS, or whose
// certificate does not verify, gets neither the credentials nor the mail,
// and the delivery is dead at once; without it, mail goes through as
// before. A server that offers STARTTLS with a good certificate gets both,
// over TLS.
func TestEmailRequireTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	tests := []struct {
		name       string
		cert       *tls.Certificate
		tlsReply   string
		trust      bool
		requireTLS bool
		password   string
		wantErr    string // "" delivers
		permanent  bool
		wantTLS    bool // AUTH and DATA went over TLS
	}{
		{name: "no STARTTLS, required: nothing sent", requireTLS: true, password: "s3cret",
			wantErr: "does not offer STARTTLS", permanent: true},
		{name: "no STARTTLS, required, no password: nothing sent", requireTLS: true,
			wantErr: "does not offer STARTTLS", permanent: true},
		{name: "no STARTTLS, not required: sent in the clear as before"},
		{name: "STARTTLS, trusted: sent over TLS", cert: cert, trust: true, requireTLS: true, password: "s3cret", wantTLS: true},
		{name: "STARTTLS, untrusted certificate, required: nothing sent", cert: cert, requireTLS: true, password: "s3cret",
			wantErr: "certificate", permanent: true},
		{name: "STARTTLS, untrusted certificate, not required: retried, nothing sent", cert: cert,
			wantErr: "certificate"},
		{name: "STARTTLS answered 454, required: retried, nothing sent", tlsReply: "454 4.7.0 TLS not available now",
			requireTLS: true, password: "s3cret", wantErr: "454"},
		{name: "STARTTLS answered 554, required: dead, nothing sent", tlsReply: "554 5.7.0 no TLS for you",
			requireTLS: true, password: "s3cret", wantErr: "554", permanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newSMTPServer(t, tt.cert, tt.tlsReply)
			opts := SMTPOptions{Addr: srv.Addr(), From: "bot@example.com", RequireTLS: tt.requireTLS, Timeout: 5 * time.Second}
			if tt.password != "" {
				opts.Username, opts.Password = "bot", tt.password
			}
			e := NewEmail(opts, time.Now)
			if tt.trust {
				e.rootCAs = pool
			}
			err := e.Deliver(context.Background(), emailPage(t))
			cmds, data := srv.seen()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Deliver: %v (server read %v)", err, cmds)
				}
				if len(data) != 1 || !strings.Contains(data[0], "Disk full") {
					t.Fatalf("server took %q, want the page", data)
				}
				if tt.wantTLS != has(cmds, "DATA+tls") || (tt.password != "" && tt.wantTLS != has(cmds, "AUTH+tls")) {
					t.Errorf("commands %v: want AUTH and DATA over TLS = %v", cmds, tt.wantTLS)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
			}
			if got := outbox.IsPermanent(err); got != tt.permanent {
				t.Errorf("IsPermanent(%v) = %v, want %v", err, got, tt.permanent)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error carries the password: %v", err)
			}
			for _, verb := range []string{"AUTH", "MAIL", "RCPT", "DATA"} {
				if has(cmds, verb) {
					t.Errorf("server read %s (commands %v), want nothing sent", verb, cmds)
				}
			}
			if len(data) != 0 {
				t.Errorf("server took %d mails, want none", len(data))
			}
		})
	}
}
