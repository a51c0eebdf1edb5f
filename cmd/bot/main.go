// Command bot is the on-call bot: it takes alerts from monitoring webhooks,
// groups them into incidents and pages whoever is on call.
//
// Usage:
//
//	bot serve --config manifests/demo.yaml
//	bot check --config manifests/demo.yaml
//	bot plan -f teams/ --config bot.yaml [--prune] [--format json]
//	bot apply -f teams/ --config bot.yaml [--prune] [--yes]
//	bot export --config bot.yaml -o exported/
//	bot report --config bot.yaml --team ops [--week 2026-W48] [--format md|json|csv]
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
	"sync"
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
		var code exitError
		if errors.As(err, &code) {
			os.Exit(code.code)
		}
		fmt.Fprintln(os.Stderr, "bot:", err)
		os.Exit(1)
	}
}

const usage = `usage: bot <command> [flags]

commands:
  serve    run the bot (HTTP server, timers, outbox)
  check    load and check a configuration file, then exit
  plan     -f PATH: what applying the files would change (exit 0: nothing, 2: changes, 1: errors)
  apply    -f PATH: the plan, then applied to the database
  export   -o DIR: the applied configuration, run-time edits folded in, as files apply accepts
  import   pagerduty-history --team 'PD team=bot team' [--user 'PD name=person'] [--since DATE --until DATE]:
           PagerDuty's incidents and log entries, for the report's trend (PAGERDUTY_TOKEN)
  report   --team NAME [--week 2026-W48 | --from DATE --to DATE] [--format md|json|csv]: the handoff report
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
		for _, w := range cfg.Warnings() {
			fmt.Fprintf(stdout, "%s: warning: %s\n", *path, w)
		}
		fmt.Fprintf(stdout, "%s: ok (%d integrations, %d routes, %d teams, %d schedules, %d escalation policies)\n", *path,
			len(cfg.Integrations), len(cfg.Routes), len(cfg.Teams), len(cfg.Schedules), len(cfg.EscalationPolicies))
		return nil
	case "report":
		return reportCommand(ctx, args[1:], stdout, stderr)
	case "import":
		return importCommand(ctx, args[1:], stdout, stderr)
	case "plan", "apply", "export":
		return configCommand(ctx, args[0], args[1:], os.Stdin, stdout, stderr)
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

// debugServer serves net/http/pprof, on a listener of its own so profiles
// are never reachable through the public port.
func debugServer() *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
}

// shutdownGrace bounds how long requests in flight may take to finish on
// SIGTERM. The Kubernetes manifest gives the pod 40 s, so the loops and the
// database still close before SIGKILL.
const shutdownGrace = 30 * time.Second

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
	var dbgLn net.Listener
	if *debugListen != "" {
		if dbgLn, err = net.Listen("tcp", *debugListen); err != nil {
			ln.Close()
			return fmt.Errorf("--debug-listen %s: %w", *debugListen, err)
		}
	}
	a, err := app.New(ctx, cfg, app.Options{Logger: log, RoomGather: 250 * time.Millisecond, ConfigPaths: []string{*path}})
	if err != nil {
		ln.Close()
		if dbgLn != nil {
			dbgLn.Close()
		}
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
	a.Start(context.WithoutCancel(ctx))

	// Every goroutine started here is waited for before serve returns.
	var wg sync.WaitGroup
	defer wg.Wait()
	served := make(chan error, 1)
	wg.Add(1)
	go func() { defer wg.Done(); served <- srv.Serve(ln) }()
	var dbg *http.Server
	if dbgLn != nil {
		dbg = debugServer()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := dbg.Serve(dbgLn); !errors.Is(err, http.ErrServerClosed) {
				log.Error("debug server stopped", "err", err)
			}
		}()
		log.Info("debug server (pprof) listening", "addr", dbgLn.Addr().String())
	}
	log.Info("bot serving", "addr", ln.Addr().String(), "database", cfg.Database, "version", version())

	// SIGHUP applies the configuration file again, live (as POST
	// /api/v1/config/apply with no files does); a file that does not
	// validate changes nothing and is logged.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	hupDone := make(chan struct{})
	var reloader sync.WaitGroup // ends before the app closes
	reloader.Add(1)
	go func() {
		defer reloader.Done()
		for {
			select {
			case <-hupDone:
				return
			case <-hup:
				p, err := a.ReloadStartFile(ctx, "sighup")
				if err != nil {
					log.Error("SIGHUP: configuration not reloaded; running on the previous one", "file", *path, "err", err)
					continue
				}
				log.Info("SIGHUP: configuration reloaded", "file", *path, "changes", len(p.Changes))
			}
		}
	}()

	var serveErr error
	select {
	case err := <-served:
		serveErr = fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
		stop() // a second SIGTERM or ^C ends the process at once
		log.Info("shutting down: finishing requests in flight")
	}
	close(hupDone)
	reloader.Wait()
	// The HTTP server stops first, so every 202 it sent is committed and
	// no request is left waiting on a closed store; then the app's loops
	// stop and the database closes; the debug server goes last, so a
	// shutdown that hangs can still be profiled.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	var errs []error
	if err := srv.Shutdown(shutdownCtx); err != nil {
		// Past the grace period: cut what is left rather than keep the
		// loops and the database waiting on it.
		srv.Close()
		errs = append(errs, fmt.Errorf("http server: %w", err))
	}
	if serveErr == nil {
		<-served // http.ErrServerClosed, once Shutdown has begun
	}
	if err := a.Close(); err != nil {
		errs = append(errs, fmt.Errorf("closing the app: %w", err))
	}
	if dbg != nil {
		dbg.Close()
	}
	if serveErr != nil {
		return errors.Join(append([]error{serveErr}, errs...)...)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}
