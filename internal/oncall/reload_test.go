package oncall

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/clock"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/store"
)

const reloadV1 = `
people: [{name: alice}, {name: bob}, {name: carol}]
teams: [{name: ops, members: [alice, bob], leads: [alice], schedule: ops}]
schedules:
  - name: ops
    time_zone: UTC
    layers: [{name: weekly, rotation: weekly, start: "2026-11-30 09:00", participants: [alice, bob]}]
  - name: old
    time_zone: UTC
    layers: [{name: weekly, rotation: weekly, start: "2026-11-30 09:00", participants: [carol]}]
default_route: {team: ops}
`

// Reload puts a new configuration in force: schedules rebuilt (with
// their overrides and run-time edits still applied), people and teams
// swapped, a schedule no longer defined dropped; a bad one changes
// nothing.
func TestServiceReload(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "bot.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := clock.NewFake(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	v1, err := config.Parse([]byte(reloadV1))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewService(ctx, st, clk, v1)
	if err != nil {
		t.Fatal(err)
	}
	now := clk.Now()
	// An override on ops: carol covers the next hour; it must survive.
	if _, err := s.AddOverride(ctx, "ops", NewOverride{Kind: Replace, User: "carol", Replaces: "alice", Start: now, End: now.Add(time.Hour)}, "test"); err != nil {
		t.Fatal(err)
	}

	v2, err := config.Parse([]byte(strings.NewReplacer(
		"people: [{name: alice}, {name: bob}, {name: carol}]", "people: [{name: alice}, {name: bob}, {name: carol}, {name: dave}]",
		"participants: [alice, bob]}]", "participants: [bob, dave]}]",
		"  - name: old\n    time_zone: UTC\n    layers: [{name: weekly, rotation: weekly, start: \"2026-11-30 09:00\", participants: [carol]}]\n", "",
		"members: [alice, bob]", "members: [alice, bob, dave]",
	).Replace(reloadV1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(ctx, v2); err != nil {
		t.Fatal(err)
	}
	sc, ok := s.Schedule("ops")
	if !ok {
		t.Fatal("ops is gone")
	}
	if got := sc.OnCall(now.Add(30 * time.Minute)); !slices.Equal(got, []string{"bob"}) {
		// The week's first participant is now bob; carol's override
		// replaces alice, who is no longer on call.
		t.Errorf("on call during the override = %v, want [bob]", got)
	}
	if got := sc.OnCall(now.Add(7 * 24 * time.Hour)); !slices.Equal(got, []string{"dave"}) {
		t.Errorf("on call next week = %v, want [dave]", got)
	}
	if _, ok := s.Schedule("old"); ok {
		t.Error("a schedule no longer configured is still served")
	}
	if _, ok := s.Person("dave"); !ok {
		t.Error("a new person is not known")
	}
	if on, err := s.TeamOnCall("ops", 1); err != nil || on.Schedule != "ops" {
		t.Errorf("team ops after reload: %+v %v", on, err)
	}
	if len(s.Schedules()) != 1 {
		t.Errorf("%d schedules, want 1", len(s.Schedules()))
	}
	// An override added after the reload lands on the new schedule.
	if _, err := s.AddOverride(ctx, "ops", NewOverride{Kind: Add, User: "dave", Start: now.Add(2 * time.Hour), End: now.Add(3 * time.Hour)}, "test"); err != nil {
		t.Fatal(err)
	}
	if sc, _ := s.Schedule("ops"); !slices.Contains(sc.OnCall(now.Add(150*time.Minute)), "dave") {
		t.Error("an override after the reload is not served")
	}

	bad := *v2
	bad.Schedules = append(slices.Clone(v2.Schedules), config.Schedule{Name: "broken", TimeZone: "Mars/Olympus"})
	if err := s.Reload(ctx, &bad); err == nil {
		t.Fatal("a schedule in an unknown zone was put in force")
	}
	if _, ok := s.Schedule("broken"); ok || len(s.Schedules()) != 1 {
		t.Error("a failed reload changed the schedules")
	}
}
