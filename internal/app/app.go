// Package app wires the bot together from a configuration: the store, the
// incident domain, the timer and outbox loops, and the HTTP server. The
// binary and the scenario tests build the bot the same way, through New.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/go-chi/chi/v5"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/chat/discord"
	slackchat "github.com/oncallbot/bot/internal/chat/slack"
	"github.com/oncallbot/bot/internal/chat/telegram"
	"github.com/oncallbot/bot/internal/chat/web"
	"github.com/oncallbot/bot/internal/clock"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/httpapi"
	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/notify"
	"github.com/oncallbot/bot/internal/oncall"
	"github.com/oncallbot/bot/internal/outbox"
	"github.com/oncallbot/bot/internal/store"
	"github.com/oncallbot/bot/internal/timer"
	"github.com/oncallbot/bot/internal/triage"
)

// Options are what differs between production and tests.
type Options struct {
	Clock  clock.Clock
	Logger *slog.Logger
	// ConfigPaths are the files the configuration was loaded from, read
	// again by ReloadStartFile (SIGHUP).
	ConfigPaths []string
	// HTTPClient makes outgoing calls (webhooks); nil means a default
	// client with timeouts.
	HTTPClient *http.Client
	// Platforms are chat platforms to show incidents on, beside those the
	// config sets up.
	Platforms []chat.Platform
	// RoomGather holds a room's routine updates this long, so a burst of
	// them (a storm's alerts joining an incident) is one card edit and one
	// message; zero sends each at once (tests that drive the clock).
	RoomGather time.Duration
}

// App is a running bot.
type App struct {
	Store     *store.Store
	Clock     clock.Clock
	Incidents *incident.Service
	OnCall    *oncall.Service
	Engine    *oncall.Engine
	// Chat runs chat commands; the platform adapters hand it theirs.
	Chat     *chat.Executor
	Timers   *timer.Runner
	Outbox   *outbox.Dispatcher
	Registry *prometheus.Registry

	log     *slog.Logger
	handler http.Handler

	// live is the configuration in force (see Reload).
	live     atomic.Pointer[config.Config]
	reloadMu sync.Mutex
	applyMu  sync.Mutex // one apply at a time: plan, commit, reload
	applies  *prometheus.CounterVec
	// triage triages new incidents; nil without a triage section.
	triage *triage.Triager
	// handoff posts the weekly handoff reports; nil without a chat
	// platform.
	handoff    *chat.HandoffPoster
	startPaths []string
	pub        *outbox.Publisher
	http       *httpapi.Server
	twilioIn   *notify.TwilioInbound
	httpClient *http.Client
	// notifyConsumers are the contact methods' consumers, by name, for
	// the allnotifications subscriptions a reload rebuilds.
	notifyConsumers map[string]outbox.Consumer
	// webhooks and raw are the consumer names a reload replaces.
	webhooks, raw []string
	// reloaders put a new configuration in force in the chat side (the
	// executor, the rooms' deliverers, the adapters' directories).
	reloaders []func(*config.Config)
	// listeners are the inbound transports that reach out to a platform
	// instead of waiting for its requests (Slack Socket Mode, Telegram
	// long polling, the Discord gateway); each runs until its context ends.
	listeners []func(ctx context.Context)
	wg        sync.WaitGroup
	cancels   []context.CancelFunc
}

// New opens the database named in cfg and builds the bot. Nothing runs in
// the background until Start.
func New(ctx context.Context, cfg *config.Config, opts Options) (*App, error) {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	st, err := store.Open(ctx, cfg.Database, store.Options{Logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	if cfg, err = applyAtStart(ctx, st, cfg, opts.Clock.Now(), opts.Logger); err != nil {
		st.Close()
		return nil, err
	}
	router, err := incident.NewRouter(cfg.Routes, cfg.DefaultRoute)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("routes: %w", err)
	}
	a := &App{
		Store:    st,
		Clock:    opts.Clock,
		Registry: prometheus.NewRegistry(),
		log:      opts.Logger,
	}
	a.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.Outbox = outbox.NewDispatcher(st, opts.Clock, opts.Logger, a.Registry)
	a.Outbox.Sole = true // one process per SQLite file
	a.Timers = timer.NewRunner(st, opts.Clock, opts.Logger)

	a.live.Store(cfg)
	a.startPaths = opts.ConfigPaths
	a.httpClient = opts.HTTPClient
	pub := outbox.NewPublisher(nil, opts.Clock, a.Outbox.Wake)
	a.pub = pub
	a.reloadWebhooks(cfg)
	pub.DueAt = a.Outbox.DueAt
	if a.OnCall, err = oncall.NewService(ctx, st, opts.Clock, cfg); err != nil {
		st.Close()
		return nil, fmt.Errorf("on-call schedules: %w", err)
	}
	a.OnCall.SetPublisher(pub)
	a.Incidents = incident.NewService(st, opts.Clock, router, pub, incident.Options{
		ReopenWindow:  cfg.ReopenWindow.Std(),
		TimerArmed:    a.Timers.Wake,
		Logger:        opts.Logger,
		PagingStarted: func(tx *store.Tx, inc incident.Incident) error { return a.Engine.Start(tx, inc) },
	})
	var methods []string
	if cfg.Twilio != nil {
		methods = append(methods, "sms", "voice")
	}
	if cfg.SMTP != nil {
		methods = append(methods, "email")
	}
	methods = append(methods, "webhook") // needs only the person's URL
	var console *web.Platform
	if len(cfg.ConsoleTokens) > 0 {
		// The console is the embedded default platform: on whenever
		// someone can sign in to it.
		console = web.NewPlatform()
		opts.Platforms = append([]chat.Platform{console}, opts.Platforms...)
	}
	var slackPlatform *slackchat.Platform
	if sl := cfg.Slack; sl != nil {
		slackPlatform = slackchat.New(sl.BotToken, sl.APIURL, sl.PrivateChannels)
		opts.Platforms = append(opts.Platforms, slackPlatform)
	}
	var tgPlatform *telegram.Platform
	if tc := cfg.Telegram; tc != nil {
		if tgPlatform, err = telegram.New(tc.BotToken, tc.APIURL); err != nil {
			st.Close()
			return nil, err
		}
		opts.Platforms = append(opts.Platforms, tgPlatform)
	}
	var dcPlatform *discord.Platform
	if dc := cfg.Discord; dc != nil {
		if dcPlatform, err = discord.New(dc.BotToken, dc.APIURL); err != nil {
			st.Close()
			return nil, err
		}
		opts.Platforms = append(opts.Platforms, dcPlatform)
	}
	if len(opts.Platforms) > 0 {
		methods = append(methods, "chat")
	}
	var roomPlatforms []string
	for _, p := range opts.Platforms {
		if slices.Contains(config.RoomPlatforms, p.Name()) {
			roomPlatforms = append(roomPlatforms, p.Name())
		}
	}
	a.Engine = oncall.NewEngine(a.OnCall, cfg, a.Incidents, pub, opts.Clock, oncall.EngineOptions{
		Methods:       methods,
		TimerArmed:    a.Timers.Wake,
		RoomPlatforms: roomPlatforms,
		Store:         st,
	})
	for _, w := range cfg.Warnings() {
		opts.Logger.Warn("configuration: " + w)
	}
	a.Outbox.Dead = func(ctx context.Context, m outbox.Message, err error) {
		if strings.HasPrefix(m.Consumer, "notify:") {
			if ferr := a.Engine.NotificationFailed(ctx, m.IdempotencyKey, err.Error()); ferr != nil {
				opts.Logger.Error("record failed notification", "key", m.IdempotencyKey, "err", ferr)
			}
		}
	}
	consumers := map[string]outbox.Consumer{}
	register := func(name string, c outbox.Consumer) {
		g := guard(c, a.Engine)
		consumers[name] = g
		a.Outbox.Register(name, g)
	}
	register(oncall.NotifyConsumer("webhook"), notify.NewPersonWebhook(opts.HTTPClient, opts.Clock.Now))
	if len(opts.Platforms) > 0 {
		register(oncall.NotifyConsumer("chat"), chat.NewDirectPager(opts.Platforms, st, opts.Clock.Now))
		rooms := chat.NewRoomPager(opts.Platforms, cfg.Teams)
		a.Outbox.Register(oncall.RoomConsumer, rooms)
		a.reloaders = append(a.reloaders, rooms.Reload)
		a.handoff = chat.NewHandoffPoster(opts.Platforms, cfg, opts.Logger)
		a.Outbox.Register(chat.HandoffConsumer, a.handoff)
		a.reloaders = append(a.reloaders, a.handoff.Reload)
	}
	if m := cfg.SMTP; m != nil {
		register(oncall.NotifyConsumer("email"), notify.NewEmail(notify.SMTPOptions{Addr: m.Addr,
			Username: m.Username, Password: m.Password, From: m.From, RequireTLS: m.TLSRequired(), PublicURL: cfg.BaseURL}, opts.Clock.Now))
	}
	var twilioIn *notify.TwilioInbound
	if tw := cfg.Twilio; tw != nil {
		client := notify.NewTwilio(notify.TwilioOptions{BaseURL: tw.BaseURL, AccountSID: tw.AccountSID,
			AuthToken: tw.AuthToken, From: tw.From, PublicURL: cfg.BaseURL, Client: opts.HTTPClient})
		register(oncall.NotifyConsumer("sms"), notify.NewSMSConsumer(client, a.Engine, opts.Clock.Now))
		register(oncall.NotifyConsumer("voice"), notify.NewVoiceConsumer(client, a.Engine))
		twilioIn = notify.NewTwilioInbound(tw.AuthToken, cfg.BaseURL, phonesOf(cfg),
			phoneCommands{incidents: a.Incidents, engine: a.Engine, teams: func() []config.Team { return a.Live().Teams }, store: st, clock: opts.Clock}, a.Engine, opts.Logger)
	}
	a.Timers.Handle(incident.TimerPage, a.Incidents.HandlePageTimer)
	a.Timers.Handle(incident.TimerSnooze, a.Incidents.HandleSnoozeEnd)
	a.Engine.Register(a.Timers)
	a.Timers.Handle(TimerHandoff, a.handleHandoff)
	a.setupTriage(ctx, cfg)
	if err := a.Engine.EnsureGapCheck(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("arm the gap check: %w", err)
	}
	for _, p := range opts.Platforms {
		name := chat.ConsumerName(p.Name())
		d := chat.NewDeliverer(p, st, cfg, opts.Clock.Now)
		if a.triage != nil {
			d.SetTriages(roomTriages{db: st.Read()})
			if cp := chat.NewChartPoster(p, st, roomTriages{db: st.Read()}); cp != nil {
				// One chart drawn at a time (one is tens of milliseconds
				// of CPU), after the triages: a burst's charts follow
				// their words without taking the CPU from rooms, pages
				// and summaries.
				chart := chat.ChartConsumerName(p.Name())
				a.Outbox.Register(chart, cp)
				a.Outbox.Limit(chart, 1)
				a.Outbox.After(chart, triage.Consumer)
				pub.Subscribe(outbox.Subscription{Consumer: chart, Kinds: []string{incident.KindTriaged}})
			}
		}
		a.Outbox.Register(name, d)
		a.reloaders = append(a.reloaders, d.Reload)
		pub.Subscribe(outbox.Subscription{Consumer: name, Kinds: []string{"incident.*", "alert.*", "escalation.*", "notify.*"},
			Gather: opts.RoomGather, Latest: true})
	}
	a.notifyConsumers = consumers
	a.reloadRaw(cfg)
	// Link codes travel by email, SMS or a person's webhook when those are
	// set up, else by the console.
	var linkMethods []string
	for _, m := range []string{"email", "sms", "webhook"} {
		if slices.Contains(methods, m) {
			linkMethods = append(linkMethods, m)
		}
	}
	if console != nil {
		linkMethods = append(linkMethods, "web")
	}
	a.Chat = &chat.Executor{Incidents: a.Incidents, Escalator: a.Engine, Assigner: a.Engine, Paged: a.Engine, Reports: a, OnCall: a.OnCall, Teams: cfg.Teams, Clock: opts.Clock,
		Links: &chat.Linker{Store: st, Sender: pub, OnCall: a.OnCall, Methods: linkMethods, Clock: opts.Clock, Log: opts.Logger}}
	if a.triage != nil {
		a.Chat.Triage = a.triage
	}
	a.reloaders = append(a.reloaders, a.Chat.Reload)
	var consoleRoutes interface{ Routes(chi.Router) }
	if console != nil {
		c, err := web.NewConsole(console, a.Chat, a.Incidents, a.OnCall, cfg, opts.Clock, opts.Logger)
		if err != nil {
			st.Close()
			return nil, err
		}
		c.SetReports(a)
		if a.triage != nil {
			c.SetTriages(a)
		}
		consoleRoutes = c
		a.reloaders = append(a.reloaders, c.Reload)
	}
	var mounts []func(chi.Router)
	if dcPlatform != nil {
		in, err := discord.NewInbound(cfg.Discord.PublicKey, opts.Clock.Now, a.Chat,
			func(ctx context.Context, ch string) (int64, bool) { return chat.IncidentOfRoom(ctx, st, "discord", ch) },
			opts.Logger)
		if err != nil {
			st.Close()
			return nil, err
		}
		in.AnswerWith(dcPlatform)
		in.Reload(cfg)
		a.reloaders = append(a.reloaders, in.Reload)
		// The HTTP endpoint needs the public key to verify requests; with
		// the gateway it is optional, and serving both while it is set
		// lets the app be switched on Discord's side without a redeploy.
		if cfg.Discord.PublicKey != "" {
			mounts = append(mounts, func(r chi.Router) { r.Post("/discord/interactions", in.ServeHTTP) })
		}
		if cfg.Discord.Gateway {
			gw, err := discord.NewGateway(in, cfg.Discord.BotToken, cfg.Discord.APIURL, opts.Clock, opts.Logger)
			if err != nil {
				st.Close()
				return nil, err
			}
			a.listeners = append(a.listeners, gw.Run)
		}
	}
	if tgPlatform != nil {
		in := telegram.NewInbound(cfg.Telegram.WebhookSecret, a.Chat, tgPlatform,
			func(ctx context.Context, room string) (int64, bool) {
				return chat.IncidentOfRoom(ctx, st, "telegram", room)
			},
			opts.Logger)
		in.Reload(cfg)
		a.reloaders = append(a.reloaders, in.Reload)
		if cfg.Telegram.LongPolling {
			// No route: with long polling Telegram sends nothing to the bot.
			poller := telegram.NewPoller(cfg.Telegram.BotToken, cfg.Telegram.APIURL, in.Handle, opts.Clock, opts.Logger)
			a.listeners = append(a.listeners, poller.Run)
		} else {
			mounts = append(mounts, func(r chi.Router) { r.Post("/telegram/webhook", in.ServeHTTP) })
		}
	}
	if slackPlatform != nil {
		in := slackchat.NewInbound(cfg.Slack.SigningSecret, opts.Clock.Now, a.Chat, slackPlatform,
			func(ctx context.Context, channel string) (int64, bool) {
				return chat.IncidentOfRoom(ctx, st, "slack", channel)
			},
			opts.Logger)
		in.Reload(cfg)
		a.reloaders = append(a.reloaders, in.Reload)
		// The HTTP endpoints need the signing secret to verify requests;
		// in Socket Mode it is optional, and serving both while it is set
		// lets the app be switched on Slack's side without a redeploy.
		if cfg.Slack.SigningSecret != "" {
			mounts = append(mounts, func(r chi.Router) {
				r.Post("/slack/commands", in.Command)
				r.Post("/slack/interactivity", in.Interaction)
				r.Post("/slack/events", in.Events)
			})
		}
		if cfg.Slack.SocketMode {
			sm := slackchat.NewSocketMode(in, cfg.Slack.BotToken, cfg.Slack.AppToken, cfg.Slack.APIURL, opts.Clock, opts.Logger)
			a.listeners = append(a.listeners, sm.Run)
		}
	}
	a.Registry.MustRegister(&dbCollector{app: a})
	a.applies = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bot_config_reloads_total",
		Help: "Reloads of the start files (SIGHUP, or POST /api/v1/config/apply with no files) by result: applied, unchanged, invalid (nothing changed), failed.",
	}, []string{"result"})
	a.Registry.MustRegister(a.applies)

	a.twilioIn = twilioIn
	a.http = httpapi.New(httpapi.Options{
		Incidents:      a.Incidents,
		OnCall:         a.OnCall,
		Escalator:      a.Engine,
		Assigner:       a.Engine,
		Twilio:         twilioIn,
		BaseURL:        cfg.BaseURL,
		Console:        consoleRoutes,
		Mounts:         mounts,
		Integrations:   cfg.Integrations,
		APITokens:      cfg.APITokens,
		Teams:          cfg.Teams,
		MetricsToken:   cfg.MetricsBearer(),
		TrustedProxies: cfg.TrustedProxyPrefixes(),
		Config:         a,
		Ready:          st.Ping,
		Clock:          opts.Clock,
		Logger:         opts.Logger,
		Registry:       a.Registry,
	})
	a.handler = a.http.Handler()
	if err := a.ensureHandoffTimers(ctx, cfg); err != nil {
		st.Close()
		return nil, fmt.Errorf("arm the handoff reports: %w", err)
	}
	return a, nil
}

// Handler serves the bot's HTTP endpoints.
func (a *App) Handler() http.Handler { return a.handler }

// Start runs the timer and outbox loops and the inbound listeners until
// Close.
func (a *App) Start(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	a.cancels = append(a.cancels, cancel)
	a.wg.Add(2)
	go func() { defer a.wg.Done(); a.Timers.Run(ctx) }()
	go func() { defer a.wg.Done(); a.Outbox.Run(ctx) }()
	a.Listen(ctx)
}

// Listen runs only the inbound listeners (Socket Mode, long polling, the
// Discord gateway) until Close: tests that drive timers and the outbox by
// hand with Tick still need commands to come in.
func (a *App) Listen(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	a.cancels = append(a.cancels, cancel)
	for _, l := range a.listeners {
		a.wg.Add(1)
		go func() { defer a.wg.Done(); l(ctx) }()
	}
}

// Tick runs, in the caller's goroutine, every timer due now and every
// outbox delivery due now, until nothing more is due. Tests call it after
// moving the fake clock instead of starting the loops.
func (a *App) Tick(ctx context.Context) error {
	for {
		ran, err := a.Timers.RunDue(ctx)
		if err != nil {
			return err
		}
		a.Engine.WaitBackground()
		sent, err := a.Outbox.Drain(ctx)
		if err != nil {
			return err
		}
		if ran == 0 && sent == 0 {
			return nil
		}
	}
}

// Close stops the loops and closes the database. Call it after the HTTP
// server has stopped, so no request is left waiting on a closed store.
func (a *App) Close() error {
	for _, cancel := range a.cancels {
		cancel()
	}
	a.wg.Wait()
	a.Engine.Close() // calendar refreshes in flight
	return a.Store.Close()
}
