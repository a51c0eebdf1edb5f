package oncall

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/store"
)

// The latest row of each layer is its state, whoever wrote it: a lead's
// edit from chat or an apply from configuration.
func TestLayerStatesAreTheLatestRowOfEachLayer(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "bot.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	writes := []struct {
		schedule, layer string
		people          []string
		start, by       string
	}{
		{"ops", "weekly", []string{"alice", "bob"}, "2026-01-05 09:00", "slack:alice"},
		{"ops", "weekly", []string{"alice", "bob", "carol"}, "2026-01-05 09:00", "slack:alice"},
		{"ops", "nights", []string{"carol"}, "2026-01-05 22:00", "telegram:bob"},
		{"dba", "weekly", []string{"dave"}, "2026-02-02 10:00", "cli:ci"},
	}
	for i, w := range writes {
		err := st.Write(ctx, func(tx *store.Tx) error {
			return SetLayerState(tx, w.schedule, w.layer, w.people, w.start, w.by, "test", at.Add(time.Duration(i)*time.Minute))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := LayerStates(ctx, st.Read())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string][]string{
		"ops": {"weekly": {"alice", "bob", "carol"}, "nights": {"carol"}},
		"dba": {"weekly": {"dave"}},
	}
	for sc, layers := range want {
		for l, people := range layers {
			if s := got[sc][l]; !slices.Equal(s.Participants, people) {
				t.Errorf("%s/%s = %+v, want %v", sc, l, s, people)
			}
		}
	}
	if s := got["ops"]["weekly"]; s.By != "slack:alice" || !s.At.Equal(at.Add(time.Minute)) || s.Start != "2026-01-05 09:00" {
		t.Errorf("ops/weekly's latest = %+v", s)
	}
	err = st.Write(ctx, func(tx *store.Tx) error {
		return SetLayerState(tx, "ops", "weekly", nil, "next monday", "cli", "test", at)
	})
	if err == nil {
		t.Error("a start that is not a local date and time was recorded")
	}
}
