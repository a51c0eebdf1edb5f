package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/clock"
)

const (
	// pollTimeout is how long one getUpdates call waits for an update
	// when none is pending: under the minute or so after which proxies
	// and NATs tend to drop an idle connection. Tests never wait it out:
	// their fakes answer as soon as an update is queued or the poller
	// stops.
	pollTimeout = 30 * time.Second
	// maxBackoff caps the wait between failed calls that Telegram gave
	// no retry_after for.
	maxBackoff = time.Minute
	// handleTimeout bounds the handling of one update once the poller is
	// told to stop (see Run).
	handleTimeout = 30 * time.Second
	// pollUpdates are the update types asked for: commands come in
	// messages, button presses in callback queries.
	pollUpdates = `["message","callback_query"]`
)

// Poller is the long-polling transport: it fetches updates with
// getUpdates and hands each to a handler (Inbound.Handle), for a bot that
// no webhook can reach. The bot token on its own outgoing connection
// authenticates Telegram, so there is no secret token to check.
//
// It calls getUpdates itself rather than running go-telegram/bot's Start,
// which would hand updates to the library's handler registry on worker
// goroutines, confirm each update as soon as it is fetched (lost if the
// bot stops before handling it), wait 0.1 to 5 s of wall time after any
// error, ignoring a 429's retry_after, and never delete a webhook; and
// v1.19.0 keeps its raw request unexported, so the library has no
// getUpdates of its own to call either. Doing it here keeps the webhook's
// behaviour: updates go in order, one at a time, through the same
// Inbound.Handle; an update is confirmed only once handled; waits run on
// the bot's clock, so tests move a fake clock instead of sleeping.
type Poller struct {
	endpoint string // {server}/bot{token}/
	handle   func(ctx context.Context, upd *models.Update)
	clock    clock.Clock
	client   *http.Client
	log      *slog.Logger

	// offset is the update_id wanted next: one past the last update
	// handled. Telegram forgets the updates below it when a getUpdates
	// call carries it.
	offset int64
	// confirmed is the offset of the last getUpdates call Telegram
	// answered.
	confirmed int64
}

// NewPoller returns a poller of the Bot API at serverURL ("" for
// https://api.telegram.org) that gives each update to handle.
func NewPoller(token, serverURL string, handle func(ctx context.Context, upd *models.Update), clk clock.Clock, log *slog.Logger) *Poller {
	if serverURL == "" {
		serverURL = "https://api.telegram.org"
	}
	return &Poller{
		endpoint: strings.TrimRight(serverURL, "/") + "/bot" + token + "/",
		handle:   handle,
		clock:    clk,
		// No client timeout: each call gets a deadline fitted to it.
		client: &http.Client{},
		log:    log,
	}
}

// Run deletes the webhook (getUpdates answers 409 Conflict while one is
// set), then fetches and handles updates until ctx ends. A failed call is
// logged and made again after a wait: a 429's retry_after, otherwise
// doubling from a second up to a minute. When ctx ends, the update in hand
// is finished and the updates handled are confirmed before Run returns,
// so the next start neither loses nor repeats them.
func (p *Poller) Run(ctx context.Context) {
	for failures := 1; ; failures++ {
		err := p.call(ctx, "deleteWebhook", url.Values{"drop_pending_updates": {"false"}}, 30*time.Second, nil)
		if err == nil {
			break
		}
		if !p.wait(ctx, "delete the telegram webhook to poll instead", err, failures) {
			return
		}
	}
	p.log.Info("telegram long polling started", "timeout", pollTimeout)
	defer p.confirmHandled(ctx)
	failures := 0
	for ctx.Err() == nil {
		updates, err := p.getUpdates(ctx)
		if err != nil {
			failures++
			if !p.wait(ctx, "poll telegram for updates", err, failures) {
				return
			}
			continue
		}
		failures = 0
		p.confirmed = p.offset
		for _, u := range updates {
			if ctx.Err() != nil {
				// Unconfirmed, so Telegram gives them to the next start.
				return
			}
			p.handleOne(ctx, u)
			p.offset = u.id + 1
		}
	}
}

// polled is an update as getUpdates gave it; update is nil when it does
// not decode.
type polled struct {
	id     int64
	update *models.Update
	err    error
}

func (p *Poller) getUpdates(ctx context.Context) ([]polled, error) {
	params := url.Values{
		"timeout":         {strconv.Itoa(int(pollTimeout / time.Second))},
		"allowed_updates": {pollUpdates},
	}
	if p.offset > 0 {
		params.Set("offset", strconv.FormatInt(p.offset, 10))
	}
	var raw []json.RawMessage
	// Telegram holds the call up to the timeout; the margin only catches
	// a connection that died without a word.
	if err := p.call(ctx, "getUpdates", params, pollTimeout+15*time.Second, &raw); err != nil {
		return nil, err
	}
	out := make([]polled, len(raw))
	for i, r := range raw {
		// The id is read apart, so an update this library cannot decode
		// is still stepped over instead of asked for again and again.
		var id struct {
			ID int64 `json:"update_id"`
		}
		if err := json.Unmarshal(r, &id); err != nil {
			return nil, fmt.Errorf("telegram getUpdates: update %d has no update_id: %w", i, err)
		}
		out[i].id = id.ID
		var upd models.Update
		if out[i].err = json.Unmarshal(r, &upd); out[i].err == nil {
			out[i].update = &upd
		}
	}
	return out, nil
}

// handleOne gives an update to the handler. Once ctx ends the handler
// still gets time to finish, as an HTTP server shutting down lets a
// webhook request finish; a panic is logged and the update stepped over,
// as net/http does for a webhook request, so that one update cannot stop
// the bot on every start.
func (p *Poller) handleOne(ctx context.Context, u polled) {
	if u.update == nil {
		p.log.Warn("skip a telegram update that does not decode", "update_id", u.id, "err", u.err)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handleTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			p.log.Error("telegram update handler panicked", "update_id", u.id, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	p.handle(ctx, u.update)
}

// confirmHandled tells Telegram, as the poller stops, of the updates
// handled since its last answered getUpdates, so the next start does not
// handle them again. ctx has ended: the call gets a short one of its own.
// A timeout of 0 answers at once; the one update it may return is left
// unconfirmed for the next start.
func (p *Poller) confirmHandled(ctx context.Context) {
	if p.offset <= p.confirmed {
		return
	}
	params := url.Values{"offset": {strconv.FormatInt(p.offset, 10)}, "timeout": {"0"}, "limit": {"1"}, "allowed_updates": {pollUpdates}}
	if err := p.call(context.WithoutCancel(ctx), "getUpdates", params, 5*time.Second, nil); err != nil {
		p.log.Warn("confirm handled telegram updates; the next start handles them again", "offset", p.offset, "err", err)
	}
}

// wait logs a failed call and waits on the bot's clock before the next
// one. It is false when ctx ends first; the failure is then the stop
// itself, and not logged.
func (p *Poller) wait(ctx context.Context, what string, err error, failures int) bool {
	if ctx.Err() != nil {
		return false
	}
	d := backoff(err, failures)
	p.log.Warn(what, "err", err, "retry_in", d)
	t := p.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
		return true
	}
}

// backoff is the wait after the failures-th failed call in a row:
// Telegram's retry_after when it gave one, else doubling from a second up
// to maxBackoff.
func backoff(err error, failures int) time.Duration {
	var ae *apiError
	if errors.As(err, &ae) && ae.RetryAfter > 0 {
		return ae.RetryAfter
	}
	return chat.DoublingWait(failures, time.Second, maxBackoff)
}

// apiError is the Bot API refusing a call ({"ok":false,...}).
type apiError struct {
	Method      string
	Code        int // error_code, which is also the HTTP status
	Description string
	// RetryAfter is how long a 429 asks to wait.
	RetryAfter time.Duration
}

func (e *apiError) Error() string {
	s := fmt.Sprintf("telegram %s: %d %s", e.Method, e.Code, e.Description)
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

// call posts a Bot API method, its params form-encoded (arrays as JSON,
// as the Bot API takes them), and decodes the result into dest unless it
// is nil. The call may take up to limit.
func (p *Poller) call(ctx context.Context, method string, params url.Values, limit time.Duration, dest any) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.endpoint+method, strings.NewReader(params.Encode()))
	if err != nil {
		return fmt.Errorf("telegram %s: %w", method, redact(err))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("telegram %s: %w", method, redact(err))
	}
	defer resp.Body.Close()
	var answer struct {
		OK          bool            `json:"ok"`
		Result      json.RawMessage `json:"result"`
		ErrorCode   int             `json:"error_code"`
		Description string          `json:"description"`
		Parameters  struct {
			RetryAfter int `json:"retry_after"`
		} `json:"parameters"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 32<<20)).Decode(&answer); err != nil {
		return fmt.Errorf("telegram %s: answer (%s) is not the Bot API's: %w", method, resp.Status, err)
	}
	if !answer.OK {
		code := answer.ErrorCode
		if code == 0 {
			code = resp.StatusCode
		}
		return &apiError{Method: method, Code: code, Description: answer.Description,
			RetryAfter: time.Duration(answer.Parameters.RetryAfter) * time.Second}
	}
	if dest == nil {
		return nil
	}
	if err := json.Unmarshal(answer.Result, dest); err != nil {
		return fmt.Errorf("telegram %s: result: %w", method, err)
	}
	return nil
}

// redact drops the URL from a request error: it holds the bot token,
// which must stay out of errors and so of the logs.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
