package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/oncallbot/bot/internal/clock"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/oncall"
	"github.com/oncallbot/bot/internal/plan"
	"github.com/oncallbot/bot/internal/report"
	"github.com/oncallbot/bot/internal/store"
)

// reportCommand prints the handoff report of a team, reading the database
// the configuration names (also while the bot runs).
func reportCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "manifests/demo.yaml", "the bot's configuration file (BOT_DB overrides its database)")
	team := fs.String("team", "", "the team")
	week := fs.String("week", "", "an ISO week, 2026-W48 (default: the last full on-call week)")
	from := fs.String("from", "", "first day, 2026-11-23 (with --to)")
	to := fs.String("to", "", "the day after the last, 2026-11-30 (with --from)")
	format := fs.String("format", "md", "md, html, json or csv")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *team == "" {
		return errors.New("report: name the team with --team")
	}
	file, err := config.Load(*path)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, file.Database, store.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	defer st.Close()
	// The configuration in force: what was applied, with the file's
	// settings (the file's own objects when nothing was applied yet).
	cfg := file
	applied, err := plan.Applied(ctx, st.Read())
	if err != nil {
		return err
	}
	if len(applied) > 0 {
		cfg = file.Settings()
		if err := plan.Objects(cfg, applied); err != nil {
			return err
		}
		if err := cfg.Check(); err != nil {
			return err
		}
	}
	clk := clock.Real{}
	oc, err := oncall.NewService(ctx, st, clk, cfg)
	if err != nil {
		return err
	}
	src := report.Source{DB: st.Read(), OnCall: oc, Config: cfg}
	var rangeArgs []string
	switch {
	case *week != "":
		rangeArgs = []string{*week}
	case *from != "" || *to != "":
		rangeArgs = []string{*from, *to}
	}
	r, err := src.ParseRange(*team, rangeArgs, clk.Now())
	if err != nil {
		return err
	}
	h, err := src.Weekly(ctx, *team, r)
	if err != nil {
		return err
	}
	switch *format {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(h)
	case "csv":
		return h.CSV(stdout)
	case "md":
		return h.Markdown(stdout)
	case "html":
		return h.HTML(stdout)
	}
	return fmt.Errorf("--format %q: want md, html, json or csv", *format)
}
