package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// roomWatch follows the web console's live-update stream (/events, signed
// in with a console token) and records when each incident's room was first
// heard of. The console platform's OpenRoom, the first chat call of an
// incident on that platform, is what publishes that first event (its
// PostCard, UpdateCard and Post follow), so the first event naming a room
// is the most direct sign outside the bot that the room exists: the
// console's room page itself renders any incident from the database,
// room or not. The console drops events for a stream that lags (a
// 16-event buffer), so the watch reads several streams at once and keeps
// the earliest sighting; a room none of them reports is counted as not
// seen, which makes the storm's room count a lower bound.
type roomWatch struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	first      map[int64]time.Time
	events     int
	reconnects int
	err        error
}

// watchStreams is how many console streams a watch reads.
const watchStreams = 2

// watchRooms signs in at base and opens the streams; it returns once they
// are connected, so nothing published after that is missed by all.
func watchRooms(ctx context.Context, base string) (*roomWatch, error) {
	cookie, err := consoleLogin(ctx, base)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &roomWatch{cancel: cancel, first: map[int64]time.Time{}}
	for range watchStreams {
		body, err := openStream(ctx, base, cookie)
		if err != nil {
			w.Close()
			return nil, err
		}
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			w.follow(ctx, base, cookie, body)
		}()
	}
	return w, nil
}

// follow reads one stream, reconnecting at once when it drops (events in
// the gap may be lost; the reconnect count says there was a gap).
func (w *roomWatch) follow(ctx context.Context, base string, cookie *http.Cookie, body io.ReadCloser) {
	for {
		err := w.read(body)
		body.Close()
		if ctx.Err() != nil {
			return
		}
		w.mu.Lock()
		w.err = err
		w.reconnects++
		n := w.reconnects
		w.mu.Unlock()
		if n > 5*watchStreams {
			return
		}
		if body, err = openStream(ctx, base, cookie); err != nil {
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
			return
		}
	}
}

func consoleLogin(ctx context.Context, base string) (*http.Cookie, error) {
	client := &http.Client{Timeout: 10 * time.Second, Transport: loopback,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/login",
		strings.NewReader(url.Values{"token": {consoleToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("console sign-in: %w", err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Value != "" {
			return c, nil
		}
	}
	return nil, fmt.Errorf("console sign-in: %s and no session cookie", resp.Status)
}

func openStream(ctx context.Context, base string, cookie *http.Cookie) (io.ReadCloser, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/events", nil)
	req.AddCookie(cookie)
	resp, err := streamClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("console stream: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("console stream: %s", resp.Status)
	}
	return resp.Body, nil
}

func (w *roomWatch) read(body io.ReadCloser) error {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		at := time.Now()
		var e struct {
			Kind string `json:"kind"`
			Room string `json:"room"`
		}
		if json.Unmarshal([]byte(data), &e) != nil || e.Kind == "page" {
			continue // a page banner names the room too, but is no room call
		}
		s, ok := strings.CutPrefix(e.Room, "incident-")
		if !ok {
			continue
		}
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			continue
		}
		w.mu.Lock()
		w.events++
		if t, seen := w.first[id]; !seen || at.Before(t) {
			w.first[id] = at
		}
		w.mu.Unlock()
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return errors.New("stream ended")
}

// Close ends the streams and waits for their readers.
func (w *roomWatch) Close() {
	w.cancel()
	w.wg.Wait()
}

func (w *roomWatch) seen(id int64) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.first[id]
	return t, ok
}

func (w *roomWatch) rooms() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.first)
}

func (w *roomWatch) state() (events, reconnects int, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.events, w.reconnects, w.err
}
