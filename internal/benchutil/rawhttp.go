package benchutil

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// SplitURL splits "http://host:port/path" into host:port and /path.
func SplitURL(u string) (host, path string) {
	rest := strings.TrimPrefix(u, "http://")
	i := strings.IndexByte(rest, '/')
	if i < 0 {
		return rest, "/"
	}
	return rest[:i], rest[i:]
}

// AppendRequest appends a complete HTTP/1.1 POST of body to dst: the bytes
// RawConn sends as they are.
func AppendRequest(dst []byte, host, path, auth string, body []byte) []byte {
	dst = append(dst, "POST "...)
	dst = append(dst, path...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, host...)
	dst = append(dst, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n"...)
	if auth != "" {
		dst = append(dst, "Authorization: "...)
		dst = append(dst, auth...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "\r\n"...)
	return append(dst, body...)
}

// RawConn is a kept-alive HTTP/1.1 connection that sends prebuilt requests
// and parses answers only as far as their status and length (and their
// body, when asked for).
type RawConn struct {
	net.Conn
	r *bufio.Reader
	// Timeout bounds each round trip when set.
	Timeout time.Duration
}

// DialRaw connects to host (host:port).
func DialRaw(host string) (*RawConn, error) {
	c, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &RawConn{Conn: c, r: bufio.NewReaderSize(c, 16<<10)}, nil
}

// RoundTrip writes one request and reads its answer, returning the status
// and discarding the body.
func (c *RawConn) RoundTrip(req []byte) (int, error) {
	code, _, err := c.exchange(req, nil, false)
	return code, err
}

// RoundTripBody is RoundTrip that also returns the answer's body,
// appended to buf.
func (c *RawConn) RoundTripBody(req, buf []byte) (int, []byte, error) {
	return c.exchange(req, buf, true)
}

func (c *RawConn) exchange(req, buf []byte, keep bool) (int, []byte, error) {
	if c.Timeout > 0 {
		c.SetDeadline(time.Now().Add(c.Timeout))
	}
	if _, err := c.Write(req); err != nil {
		return 0, nil, err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, nil, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, nil, fmt.Errorf("bad status line %q", line)
	}
	code, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, fmt.Errorf("bad status line %q", line)
	}
	length, chunked := -1, false
	for {
		h, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, nil, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		name, value, _ := bytes.Cut(h, []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			length, _ = strconv.Atoi(string(value))
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")) && bytes.EqualFold(value, []byte("close")):
			defer c.Close()
		}
	}
	read := func(n int) error {
		if !keep {
			_, err := c.r.Discard(n)
			return err
		}
		start := len(buf)
		buf = append(buf, make([]byte, n)...)
		_, err := io.ReadFull(c.r, buf[start:])
		return err
	}
	switch {
	case chunked:
		for {
			sz, err := c.r.ReadSlice('\n')
			if err != nil {
				return 0, nil, err
			}
			n, err := strconv.ParseInt(string(bytes.TrimSpace(sz)), 16, 64)
			if err != nil {
				return 0, nil, fmt.Errorf("bad chunk size %q", sz)
			}
			if err := read(int(n)); err != nil {
				return 0, nil, err
			}
			if _, err := c.r.Discard(2); err != nil {
				return 0, nil, err
			}
			if n == 0 {
				return code, buf, nil
			}
		}
	case length >= 0:
		err := read(length)
		return code, buf, err
	}
	return 0, nil, errors.New("answer has neither Content-Length nor chunked encoding")
}
