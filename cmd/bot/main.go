// Command bot is the on-call bot: it takes alerts from monitoring webhooks,
// groups them into incidents and pages whoever is on call.
//
// Usage:
//
//	bot serve --config manifests/demo.yaml
//	bot check --config manifests/demo.yaml
//	bot version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	_ "time/tzdata" // schedules need IANA zones even in a container without zoneinfo

	"github.com/oncallbot/bot/internal/app"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/oncall"
	"github.com/oncallbot/bot/internal/shutdown"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bot:", err)
		os.Exit(1)
	}
}

const usage = `usage: bot <command> [flags]

commands:
  serve    run the bot (HTTP server, timers, outbox)
  check    load and check a configuration file, then exit
  version  print the version`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stderr)
	case "check":
		fs := flag.NewFlagSet("check", flag.ContinueOnError)
		path := fs.String("config", "manifests/demo.yaml", "configuration file")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		cfg, err := config.Load(*path)
		if err != nil {
			return err
		}
		if _, err := incident.NewRouter(cfg.Routes, cfg.DefaultRoute); err != nil {
			return fmt.Errorf("config %s: %w", *path, err)
		}
		if _, err := oncall.SchedulesFromConfig(cfg.Schedules); err != nil {
			return fmt.Errorf("config %s: %w", *path, err)
		}
		fmt.Fprintf(stdout, "%s: ok (%d integrations, %d routes, %d teams, %d schedules, %d escalation policies)\n", *path,
			len(cfg.Integrations), len(cfg.Routes), len(cfg.Teams), len(cfg.Schedules), len(cfg.EscalationPolicies))
		return nil
	case "version":
		fmt.Fprintln(stdout, version())
		return nil
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// serveDebug serves net/http/pprof on its own listener, so profiles are
// never reachable through the public port.
func serveDebug(addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Info("debug server (pprof) listening", "addr", addr)
	if err := srv.ListenAndServe(); err != nil {
		log.Error("debug server stopped", "err", err)
	}
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	path := fs.String("config", "manifests/demo.yaml", "configuration file")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	debugListen := fs.String("debug-listen", "", "if set, serve Go's pprof profiles on this address (keep it private)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	hopts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(stderr, hopts)
	if *logFormat == "json" {
		h = slog.NewJSONHandler(stderr, hopts)
	}
	log := slog.New(h)
	slog.SetDefault(log)

	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// Listen before the app is built: the links it hands out (calendar
	// feeds, links in messages, Twilio callbacks) must name the address
	// actually bound, port 0 included, when base_url is not set.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	cfg.SetServingAddr(ln.Addr().String())
	if cfg.BaseURLDerived() {
		log.Info("base_url not set; links point at the listen address", "base_url", cfg.BaseURL)
	}
	a, err := app.New(ctx, cfg, app.Options{Logger: log})
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(h, slog.LevelWarn),
	}
	// Shutdown waits for requests in flight but never interrupts one:
	// long-lived requests (the console's event streams) are told to end.
	shutdown.Attach(srv)
	if *debugListen != "" {
		go serveDebug(*debugListen, log)
	}
	a.Start(context.WithoutCancel(ctx))
	log.Info("bot serving", "addr", ln.Addr().String(), "database", cfg.Database, "version", version())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		a.Close()
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Requests in flight finish first, so every 202 we send is committed;
	// then the loops stop and the database closes.
	shutdownErr := srv.Shutdown(shutdownCtx)
	closeErr := a.Close()
	if err := errors.Join(shutdownErr, closeErr); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}
