package discord

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/clock"
)

const (
	// openTimeout bounds one opening of the gateway: the websocket
	// handshake, HELLO, IDENTIFY or RESUME, READY. Discord answers in
	// well under a second; past this the connection is given up.
	openTimeout = 30 * time.Second
	// answerTimeout bounds the answer to one interaction. Discord takes
	// the callback for three seconds only, but a command that has begun
	// is let finish, as an HTTP server shutting down lets a request
	// finish.
	answerTimeout = 30 * time.Second
	// closeAuthFailed is the close code with which Discord refuses the
	// token of an IDENTIFY or a RESUME.
	closeAuthFailed = 4004
)

// Gateway takes interactions over Discord's gateway: the bot opens a
// websocket to Discord and identifies with its token, so it needs no
// public URL and no public key (the token authenticates the connection).
// Each INTERACTION_CREATE dispatch is run by Inbound.Answer, as the HTTP
// endpoint runs a request, and answered through the REST callback
// (POST /interactions/{id}/{token}/callback).
type Gateway struct {
	in    *Inbound
	s     *discordgo.Session
	clock clock.Clock
	log   *slog.Logger
	// retryWait is how long to wait before opening again after the n-th
	// failed opening in a row (n from 1).
	retryWait func(n int) time.Duration

	mu sync.Mutex
	// opening ends when the opening under way must be given up; nil when
	// none is under way.
	opening context.Context
	// dialed is the connection being opened, nil when none is.
	dialed net.Conn
}

// NewGateway returns the listener for in's interactions. token is the bot
// token; apiURL is as for New, and the gateway's address is asked of that
// API; the waits between failed openings run on clk.
func NewGateway(in *Inbound, token, apiURL string, clk clock.Clock, log *slog.Logger) (*Gateway, error) {
	// A session of its own, whose REST calls (the gateway's address, the
	// callbacks) go where the Platform's do.
	p, err := New(token, apiURL)
	if err != nil {
		return nil, fmt.Errorf("discord gateway: %w", err)
	}
	g := &Gateway{in: in, s: p.s, clock: clk, log: log, retryWait: openBackoff}
	// Run reconnects by itself: discordgo's own loop waits on the wall
	// clock and keeps reopening after Close, so it would outlive the bot.
	g.s.ShouldReconnectOnError = false
	// INTERACTION_CREATE needs no intent. Asking for none also spares the
	// bot every guild's GUILD_CREATE and the message and member events
	// that discordgo asks for by default.
	g.s.Identify.Intents = discordgo.IntentsNone
	g.s.Dialer = &websocket.Dialer{
		Proxy:            http.ProxyFromEnvironment,
		HandshakeTimeout: openTimeout,
		NetDialContext:   g.dial,
	}
	return g, nil
}

// openBackoff doubles the wait after each failed opening in a row, from 5
// seconds up to 5 minutes: a refused token rarely fixes itself, but an
// outage does, and at most one IDENTIFY in 5 minutes stays well inside
// Discord's daily limit of 1000.
func openBackoff(n int) time.Duration { return chat.DoublingWait(n, 5*time.Second, 5*time.Minute) }

// Run connects and answers interactions until ctx ends. When the
// connection drops, or Discord asks for a new one (op 7 RECONNECT), Run
// opens it again at once, resuming the session; when an opening fails
// (Discord down, the token refused with 4004) it waits on the clock and
// tries again rather than leave the bot deaf until a restart. It returns
// once the connection is closed and every interaction in hand answered.
func (g *Gateway) Run(ctx context.Context) {
	var answering inflight
	// discordgo emits Disconnect whenever a connection it had open is
	// closed; one pending is enough to make Run look again.
	dropped := make(chan struct{}, 1)
	removeDrop := g.s.AddHandler(func(*discordgo.Session, *discordgo.Disconnect) {
		select {
		case dropped <- struct{}{}:
		default:
		}
	})
	removeAnswer := g.s.AddHandler(func(_ *discordgo.Session, ic *discordgo.InteractionCreate) {
		// discordgo calls each handler on a goroutine of its own, so
		// interactions are answered side by side, as HTTP requests are.
		if ic.Interaction == nil || !answering.add() {
			return
		}
		defer answering.done()
		g.answer(ctx, ic.Interaction)
	})
	defer func() {
		if err := g.s.Close(); err != nil {
			g.log.Warn("discord gateway: close", "err", err)
		}
		answering.wait()
		removeAnswer()
		removeDrop()
	}()

	failures := 0
	for {
		err := g.open(ctx)
		if ctx.Err() != nil {
			return
		}
		// Already open when a late Disconnect, of a connection replaced
		// since, made Run look again: the open one stands.
		if err == nil || errors.Is(err, discordgo.ErrWSAlreadyOpen) {
			if err == nil {
				g.log.Info("discord gateway: connected")
			}
			failures = 0
			select {
			case <-ctx.Done():
				return
			case <-dropped:
				g.log.Info("discord gateway: connection closed; reconnecting")
			}
			continue
		}
		failures++
		wait := g.retryWait(failures)
		level, msg := slog.LevelWarn, "discord gateway: cannot connect; retrying"
		var ce *websocket.CloseError
		if errors.As(err, &ce) && ce.Code == closeAuthFailed {
			level, msg = slog.LevelError, "discord gateway: Discord refused the bot token; retrying"
		}
		g.log.Log(ctx, level, msg, "err", err, "failures", failures, "retry_in", wait)
		t := g.clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
	}
}

// open opens the gateway: a new session (IDENTIFY) the first time, a
// resumed one (RESUME) after that, as discordgo chooses.
func (g *Gateway) open(ctx context.Context) error {
	// discordgo reads HELLO and READY with no deadline and takes no
	// context: closing the connection in its hands is the only way to end
	// that wait when Discord falls silent or the bot stops.
	ctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	g.mu.Lock()
	g.opening = ctx
	g.mu.Unlock()
	stop := context.AfterFunc(ctx, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.dialed != nil {
			g.dialed.Close()
		}
	})
	defer stop()
	err := g.s.Open()
	g.mu.Lock()
	g.opening, g.dialed = nil, nil
	g.mu.Unlock()
	if err != nil {
		return fmt.Errorf("open the discord gateway: %w", err)
	}
	return nil
}

// dial is the websocket dialer's: it gives up with the opening under way
// and keeps the connection so that open can close it.
func (g *Gateway) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	g.mu.Lock()
	opening := g.opening
	g.mu.Unlock()
	if opening == nil {
		return nil, errors.New("discord gateway: dial outside an opening")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(opening, cancel)()
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	// The opening may have ended while dialing, after open's AfterFunc
	// looked for a connection to close.
	if err := opening.Err(); err != nil {
		c.Close()
		return nil, err
	}
	g.dialed = c
	return c, nil
}

// answer runs an interaction and posts its response to the callback. A
// panic is logged and the interaction left unanswered, as net/http does
// for a request, so that one interaction cannot stop the bot.
func (g *Gateway) answer(ctx context.Context, in *discordgo.Interaction) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), answerTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			g.log.Error("discord gateway: interaction handler panicked", "interaction", in.ID, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	resp, err := g.in.Answer(ctx, in)
	if err != nil {
		// Discord tells the user the interaction failed once its three
		// seconds pass unanswered.
		g.log.Warn("discord gateway: interaction not answered", "interaction", in.ID, "err", err)
		return
	}
	// A command has taken effect by now whether or not its answer gets
	// through: the card changes through the outbox either way.
	err = g.s.InteractionRespond(in, resp, discordgo.WithContext(ctx))
	if err != nil && hasFiles(resp) {
		// The file may be what Discord refused: the text still matters.
		g.log.Warn("discord gateway: answer an interaction with a file; answering with the text alone", "interaction", in.ID, "err", err)
		err = g.s.InteractionRespond(in, textOnly(resp), discordgo.WithContext(ctx))
	}
	if err != nil {
		g.log.Warn("discord gateway: answer an interaction", "interaction", in.ID, "err", err)
	}
}

// inflight counts the interactions being answered, so that Run returns
// only once they are. discordgo starts its handlers on goroutines of its
// own, even after Run has begun to wait; a WaitGroup alone cannot take an
// Add then.
type inflight struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// add counts one more interaction, unless wait has begun.
func (f *inflight) add() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.wg.Add(1)
	return true
}

func (f *inflight) done() { f.wg.Done() }

// wait turns away further interactions and waits for those counted.
func (f *inflight) wait() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.wg.Wait()
}
