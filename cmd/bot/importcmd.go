package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/pdimport"
	"github.com/oncallbot/bot/internal/store"
)

// mapping is a repeatable NAME=bot-name flag.
type mapping map[string]string

func (m mapping) String() string { return fmt.Sprint(map[string]string(m)) }
func (m mapping) Set(v string) error {
	from, to, ok := strings.Cut(v, "=")
	if !ok || from == "" || to == "" {
		return fmt.Errorf("%q is not NAME=name-in-the-bot", v)
	}
	m[from] = to
	return nil
}

// importCommand brings another pager's history into the database.
func importCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "pagerduty-history" {
		return errors.New("import: say what to import: bot import pagerduty-history ...")
	}
	fs := flag.NewFlagSet("import pagerduty-history", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "manifests/demo.yaml", "the bot's configuration file (BOT_DB overrides its database)")
	base := fs.String("base-url", "https://api.pagerduty.com", "PagerDuty's REST API")
	since := fs.String("since", "", "first day to import, 2025-12-01 (default: a year ago)")
	until := fs.String("until", "", "the day after the last, 2026-12-01 (default: today)")
	teams, users := mapping{}, mapping{}
	fs.Var(teams, "team", "PagerDuty team or service = bot team (repeatable; incidents of unmapped ones are skipped)")
	fs.Var(users, "user", "PagerDuty user name or email = bot person (repeatable)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if len(teams) == 0 {
		return errors.New("import: map at least one PagerDuty team or service with --team 'Engineering=ops'")
	}
	now := time.Now().UTC()
	day := func(s string, def time.Time) (time.Time, error) {
		if s == "" {
			return def, nil
		}
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return t, fmt.Errorf("%q is not a date like 2025-12-01", s)
		}
		return t, nil
	}
	from, err := day(*since, now.AddDate(-1, 0, 0))
	if err != nil {
		return err
	}
	to, err := day(*until, now)
	if err != nil {
		return err
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	for pd, team := range teams {
		known := false
		for _, t := range cfg.Teams {
			known = known || t.Name == team
		}
		if !known {
			return fmt.Errorf("import: --team %s=%s: the bot has no team %q", pd, team, team)
		}
	}
	st, err := store.Open(ctx, cfg.Database, store.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := pdimport.Import(ctx, st, pdimport.Options{BaseURL: *base, Token: os.Getenv("PAGERDUTY_TOKEN"), Since: from, Until: to,
		Teams: teams, Users: users})
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}
