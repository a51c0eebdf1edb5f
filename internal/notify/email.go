package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"

	"github.com/oncallbot/bot/internal/oncall"
	"github.com/oncallbot/bot/internal/outbox"
)

// SMTPOptions configure the email consumer.
type SMTPOptions struct {
	// Addr is host:port of the SMTP server.
	Addr     string
	Username string
	Password string
	From     string
	// PublicURL goes in the mail so the reader can open the incident.
	PublicURL string
	Timeout   time.Duration
	// RequireTLS refuses to send anything (credentials or mail) unless
	// STARTTLS secured the connection: a server that does not offer it, or
	// whose certificate does not verify, fails the delivery permanently.
	// Without it, STARTTLS is used when the server offers it.
	RequireTLS bool
}

// Email delivers pages by email over SMTP, with STARTTLS when the server
// offers it (required before authenticating, and before anything when
// RequireTLS is set).
type Email struct {
	opts SMTPOptions
	now  func() time.Time
	// rootCAs, when set, replaces the system roots for the server's
	// certificate (tests trust their own server with it). Verification
	// is never skipped.
	rootCAs *x509.CertPool
}

// NewEmail returns the notify:email consumer.
func NewEmail(o SMTPOptions, now func() time.Time) *Email {
	if o.Timeout == 0 {
		o.Timeout = 15 * time.Second
	}
	return &Email{opts: o, now: now}
}

// headerSafe drops CR and LF so no value can add a header.
func headerSafe(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}

// Message renders the mail of a page.
func (e *Email) Message(p oncall.Page) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\n", headerSafe(e.opts.From))
	fmt.Fprintf(&b, "To: %s\r\n", headerSafe(p.Person.Email))
	if p.Subject != "" {
		fmt.Fprintf(&b, "Subject: %s\r\n", headerSafe(p.Subject))
	} else {
		fmt.Fprintf(&b, "Subject: [%s] #%d %s\r\n", strings.ToUpper(p.Incident.Severity.String()), p.Incident.ID, headerSafe(p.Incident.Title))
	}
	fmt.Fprintf(&b, "Date: %s\r\n", e.now().UTC().Format(time.RFC1123Z))
	// The idempotency key makes the Message-ID: a resend after a crash is
	// recognisably the same mail.
	fmt.Fprintf(&b, "Message-ID: <%s@oncall-bot>\r\n", strings.NewReplacer("/", ".", " ", "").Replace(p.Key))
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nAuto-Submitted: auto-generated\r\n\r\n")
	b.WriteString(strings.ReplaceAll(p.Text, "\n", "\r\n"))
	b.WriteString("\r\n")
	if e.opts.PublicURL != "" && p.Incident.ID != 0 {
		fmt.Fprintf(&b, "\r\nIncident: %s/api/v1/incidents/%d\r\n", e.opts.PublicURL, p.Incident.ID)
	}
	return []byte(b.String())
}

// Deliver sends one page. SMTP 4xx replies are retried, 5xx are permanent.
func (e *Email) Deliver(ctx context.Context, m outbox.Message) error {
	p, err := decodePage(m)
	if err != nil {
		return err
	}
	if p.Person.Email == "" {
		return outbox.Permanent(fmt.Errorf("%s has no email address", p.Person.Name))
	}
	return classifySMTP(e.send(ctx, p.Person.Email, e.Message(p)))
}

func (e *Email) send(ctx context.Context, to string, msg []byte) error {
	d := net.Dialer{Timeout: e.opts.Timeout}
	conn, err := d.DialContext(ctx, "tcp", e.opts.Addr)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", e.opts.Addr, err)
	}
	deadline := time.Now().Add(e.opts.Timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	conn.SetDeadline(deadline)
	host, _, _ := net.SplitHostPort(e.opts.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("smtp greeting: %w", err)
	}
	defer c.Close()
	if err := e.startTLS(c, host); err != nil {
		return err
	}
	if e.opts.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", e.opts.Username, e.opts.Password, host)); err != nil {
			return fmt.Errorf("smtp auth: %w", err)
		}
	}
	if err := c.Mail(e.opts.From); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("RCPT TO %s: %w", to, err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("write message: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("end of message: %w", err)
	}
	// The server took the mail at the end of DATA; a failed QUIT must not
	// make it send again.
	_ = c.Quit()
	return nil
}

// startTLS secures the connection when the server offers STARTTLS. With
// RequireTLS, a server that does not offer it, or a failed handshake (a
// certificate that does not verify, a server that does not speak TLS),
// is a permanent error before anything else is sent: retrying would meet
// the same server. A 4xx reply to STARTTLS (454, TLS not available for a
// temporary reason) and a timeout stay retryable.
func (e *Email) startTLS(c *smtp.Client, host string) error {
	// EHLO first, so a failed greeting is reported as such and not as a
	// server without STARTTLS.
	if err := c.Hello("localhost"); err != nil {
		return fmt.Errorf("smtp EHLO: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); !ok {
		if e.opts.RequireTLS {
			return outbox.Permanent(fmt.Errorf("smtp server %s does not offer STARTTLS and require_tls is on: nothing was sent", e.opts.Addr))
		}
		return nil
	}
	err := c.StartTLS(&tls.Config{ServerName: host, MinVersion: tls.VersionTLS12, RootCAs: e.rootCAs})
	if err == nil {
		return nil
	}
	err = fmt.Errorf("starttls with %s: %w", e.opts.Addr, err)
	var te *textproto.Error
	var ne net.Error
	if !e.opts.RequireTLS || errors.As(err, &te) || (errors.As(err, &ne) && ne.Timeout()) {
		return err // a reply is classified by its code, as any other
	}
	return outbox.Permanent(fmt.Errorf("%w (require_tls is on: nothing was sent)", err))
}

// classifySMTP makes a 5xx reply permanent; everything else (4xx,
// network) is retried.
func classifySMTP(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return outbox.Permanent(err)
	}
	return err
}
