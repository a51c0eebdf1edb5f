package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/oncallbot/bot/internal/app"
	"github.com/oncallbot/bot/internal/clock"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/plan"
	"github.com/oncallbot/bot/internal/store"
)

// exitError ends the command with a code and no message of its own (the
// command has said what it had to).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// paths is a repeatable -f flag.
type paths []string

func (p *paths) String() string     { return strings.Join(*p, ",") }
func (p *paths) Set(v string) error { *p = append(*p, v); return nil }

// configFlags are the flags plan, apply and export share.
type configFlags struct {
	files     paths
	config    string
	prune     bool
	overwrite bool
	format    string
	yes       bool
	out       string
	server    string
	force     bool
}

func (f *configFlags) register(fs *flag.FlagSet, cmd string) {
	if cmd != "export" {
		fs.Var(&f.files, "f", "a configuration file or directory of them (repeatable)")
		fs.BoolVar(&f.prune, "prune", false, "delete applied objects that no file defines any more")
		fs.BoolVar(&f.overwrite, "overwrite-drift", false, "put the files' version back over run-time edits (rotation edits from chat)")
		fs.StringVar(&f.format, "format", "text", "text or json")
		fs.BoolVar(&f.force, "force", false, "delete what open incidents use; they move to their route's current policy (needs --server)")
	}
	fs.StringVar(&f.config, "config", "", "the bot's configuration file, for its database (BOT_DB overrides)")
	fs.StringVar(&f.server, "server", "", "a running bot's URL: plan and apply through its API (an admin-scoped token in BOT_TOKEN), live")
	if cmd == "apply" {
		fs.BoolVar(&f.yes, "yes", false, "apply without asking")
	}
	if cmd == "export" {
		fs.StringVar(&f.out, "o", "export", "directory to write the files to")
	}
}

// database is the SQLite file the command works on: BOT_DB, or the
// database of --config.
func (f *configFlags) database() (string, error) {
	if v := os.Getenv("BOT_DB"); v != "" {
		return v, nil
	}
	if f.config == "" {
		return "", errors.New("name the database: --config FILE (its database) or BOT_DB")
	}
	// Only the database is read: the file may hold nothing else (its
	// objects, if any, are applied when the bot starts with it).
	raw, err := os.ReadFile(f.config)
	if err != nil {
		return "", err
	}
	var settings struct {
		Database string `yaml:"database"`
	}
	if err := yaml.Unmarshal(raw, &settings); err != nil {
		return "", fmt.Errorf("%s: %w", f.config, err)
	}
	if settings.Database == "" {
		settings.Database = "data/bot.db" // config's default
	}
	return os.Expand(settings.Database, os.Getenv), nil
}

// configCommand runs plan, apply or export against the database.
func configCommand(ctx context.Context, cmd string, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f configFlags
	f.register(fs, cmd)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cmd != "export" && len(f.files) == 0 {
		return errors.New(cmd + ": name the configuration with -f PATH (a file or a directory)")
	}
	if f.format != "" && f.format != "text" && f.format != "json" {
		return fmt.Errorf("--format %q: want text or json", f.format)
	}
	if f.server != "" {
		return remoteCommand(ctx, cmd, f, stdin, stdout, stderr)
	}
	path, err := f.database()
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, path, store.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	defer st.Close()

	applied, err := plan.Applied(ctx, st.Read())
	if err != nil {
		return err
	}
	live, err := plan.LiveSet(ctx, st.Read(), applied)
	if err != nil {
		return err
	}
	if cmd == "export" {
		env, err := plan.Export(live, f.out)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "exported %d objects to %s\n", len(live), f.out)
		for _, e := range env {
			fmt.Fprintf(stdout, "  set %s: the secret was written literally, so the export names it instead\n", e)
		}
		return nil
	}

	cfg, err := config.LoadPaths(f.files...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitError{1}
	}
	digester, err := plan.DigesterOf(ctx, st.Read())
	if err != nil {
		return err
	}
	desired, err := plan.FromConfig(cfg, digester)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitError{1}
	}
	opts := plan.Options{Prune: f.prune, OverwriteDrift: f.overwrite}
	p, err := plan.Compute(desired, applied, live, opts)
	if err != nil {
		return err
	}
	// What open incidents still use is not deleted behind the running
	// bot's back: with --force it moves them, so it must be the one to
	// apply.
	current := &config.Config{}
	if err := plan.Objects(current, applied); err != nil {
		return err
	}
	open, err := incident.NewService(st, clock.Real{}, nil, nil, incident.Options{}).Open(ctx)
	if err != nil {
		return err
	}
	if strand := app.StrandedBy(open, p, current); len(strand) > 0 {
		msg := app.RefuseStranded(strand).Error()
		if f.force {
			msg += "\n--force needs --server: the running bot moves the incidents and tells their leads"
		}
		fmt.Fprintln(stderr, strings.TrimPrefix(msg, plan.ErrInvalid.Error()+": "))
		return exitError{1}
	}
	if err := printPlan(stdout, f.format, p); err != nil {
		return err
	}
	if cmd == "plan" {
		if p.HasChanges() {
			return exitError{2}
		}
		return nil
	}
	if !p.HasChanges() {
		return nil
	}
	if !f.yes && !confirm(stdin, stdout) {
		return exitError{1}
	}
	layers, err := plan.LayerStatesOf(ctx, st.Read())
	if err != nil {
		return err
	}
	err = st.Write(ctx, func(tx *store.Tx) error {
		return plan.Apply(tx, p, desired, applied, plan.ApplyOptions{Options: opts, Actor: "cli:" + actorName(),
			Now: clock.Real{}.Now(), Digester: digester, Layers: layers})
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "Applied. A running bot takes the change at its next start.")
	return nil
}

// actorName is who runs the command, for the apply's record.
func actorName() string {
	for _, v := range []string{"BOT_ACTOR", "USER", "LOGNAME"} {
		if s := os.Getenv(v); s != "" {
			return s
		}
	}
	return "unknown"
}
