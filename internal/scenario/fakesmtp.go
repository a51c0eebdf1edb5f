package scenario

import (
	"bufio"
	"fmt"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
)

// Mail is a message the fake SMTP server accepted.
type Mail struct {
	From, To string
	Msg      *mail.Message
	Body     string
}

// FakeSMTP is a small SMTP server on loopback that speaks enough of RFC
// 5321 for a client (EHLO, MAIL, RCPT, DATA, QUIT), keeps what it
// accepts, and refuses on demand with a 4xx or 5xx reply at RCPT.
type FakeSMTP struct {
	t  testing.TB
	ln net.Listener

	mu       sync.Mutex
	mails    []Mail
	refusals []string
}

// NewFakeSMTP starts the server.
func NewFakeSMTP(t testing.TB) *FakeSMTP {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &FakeSMTP{t: t, ln: ln}
	t.Cleanup(func() { ln.Close() })
	go f.serve()
	return f
}

// Addr is host:port.
func (f *FakeSMTP) Addr() string { return f.ln.Addr().String() }

// RefuseNext makes the next n recipients be refused with reply, such as
// "451 4.3.0 try again later" or "550 5.1.1 no such user".
func (f *FakeSMTP) RefuseNext(n int, reply string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.refusals = append(f.refusals, reply)
	}
}

// Mails returns the mail accepted for a recipient.
func (f *FakeSMTP) Mails(to string) []Mail {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Mail
	for _, m := range f.mails {
		if m.To == to {
			out = append(out, m)
		}
	}
	return out
}

func (f *FakeSMTP) serve() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		go f.session(c)
	}
}

func (f *FakeSMTP) session(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	say := func(format string, args ...any) { fmt.Fprintf(c, format+"\r\n", args...) }
	say("220 fake.smtp ESMTP ready")
	var from, to string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.TrimRight(line, "\r\n")
		verb := strings.ToUpper(strings.SplitN(cmd, " ", 2)[0])
		switch {
		case verb == "EHLO" || verb == "HELO":
			say("250-fake.smtp\r\n250 8BITMIME")
		case strings.HasPrefix(strings.ToUpper(cmd), "MAIL FROM:"):
			from = angle(cmd[len("MAIL FROM:"):])
			say("250 2.1.0 ok")
		case strings.HasPrefix(strings.ToUpper(cmd), "RCPT TO:"):
			f.mu.Lock()
			var refusal string
			if len(f.refusals) > 0 {
				refusal, f.refusals = f.refusals[0], f.refusals[1:]
			}
			f.mu.Unlock()
			if refusal != "" {
				say("%s", refusal)
				continue
			}
			to = angle(cmd[len("RCPT TO:"):])
			say("250 2.1.5 ok")
		case verb == "DATA":
			if to == "" {
				say("503 5.5.1 no valid recipients")
				continue
			}
			say("354 end with <CRLF>.<CRLF>")
			var data strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				data.WriteString(strings.TrimPrefix(l, "."))
			}
			msg, err := mail.ReadMessage(strings.NewReader(data.String()))
			if err != nil {
				say("554 5.6.0 bad message: %v", err)
				continue
			}
			body := new(strings.Builder)
			fmt.Fprint(body, readAll(msg))
			f.mu.Lock()
			f.mails = append(f.mails, Mail{From: from, To: to, Msg: msg, Body: body.String()})
			f.mu.Unlock()
			say("250 2.0.0 queued")
			from, to = "", ""
		case verb == "RSET":
			from, to = "", ""
			say("250 2.0.0 ok")
		case verb == "NOOP":
			say("250 2.0.0 ok")
		case verb == "QUIT":
			say("221 2.0.0 bye")
			return
		default:
			say("502 5.5.2 command not implemented")
		}
	}
}

// angle returns the address inside <...>, leaving out ESMTP parameters
// such as BODY=8BITMIME.
func angle(s string) string {
	if i := strings.IndexByte(s, '<'); i >= 0 {
		if j := strings.IndexByte(s[i:], '>'); j > 0 {
			return s[i+1 : i+j]
		}
	}
	return strings.TrimSpace(s)
}

func readAll(m *mail.Message) string {
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := m.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}
