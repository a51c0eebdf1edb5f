package plan

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/oncallbot/bot/internal/oncall"
	"github.com/oncallbot/bot/internal/store"
)

// digestKeySetting names the settings row holding the key of the secrets'
// digests.
const digestKeySetting = "config_digest_key"

// DigesterOf returns the database's digest key, or, when nothing was ever
// applied (so no digest exists to compare with), a fresh one that a first
// apply stores (see Apply).
func DigesterOf(ctx context.Context, db *sql.DB) (Digester, error) {
	var h string
	err := db.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, digestKeySetting).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		return Digester(key), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the digest key: %w", err)
	}
	key, err := hex.DecodeString(h)
	if err != nil {
		return nil, fmt.Errorf("digest key: %w", err)
	}
	return Digester(key), nil
}

// Applied loads the applied set, secrets included.
func Applied(ctx context.Context, db *sql.DB) (Set, error) {
	rows, err := db.QueryContext(ctx, `SELECT kind, name, spec, position, source, start_digest FROM config_objects`)
	if err != nil {
		return nil, fmt.Errorf("load applied configuration: %w", err)
	}
	defer rows.Close()
	set := Set{}
	for rows.Next() {
		var o Object
		var spec string
		if err := rows.Scan(&o.Kind, &o.Name, &spec, &o.Position, &o.Source, &o.StartDigest); err != nil {
			return nil, fmt.Errorf("load applied configuration: %w", err)
		}
		o.Spec = json.RawMessage(spec)
		set[o.Key] = o
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load applied configuration: %w", err)
	}
	srows, err := db.QueryContext(ctx, `SELECT kind, name, field, value, ref FROM config_secrets`)
	if err != nil {
		return nil, fmt.Errorf("load applied secrets: %w", err)
	}
	defer srows.Close()
	for srows.Next() {
		var k Key
		var field string
		var s Secret
		if err := srows.Scan(&k.Kind, &k.Name, &field, &s.Value, &s.Ref); err != nil {
			return nil, fmt.Errorf("load applied secrets: %w", err)
		}
		o, ok := set[k]
		if !ok {
			continue
		}
		if o.Secrets == nil {
			o.Secrets = map[string]Secret{}
		}
		o.Secrets[field] = s
		set[k] = o
	}
	return set, srows.Err()
}

// LiveSet is Applied with the run-time state folded in (see Live).
func LiveSet(ctx context.Context, db *sql.DB, applied Set) (Set, error) {
	layers, err := oncall.LayerStates(ctx, db)
	if err != nil {
		return nil, err
	}
	return Live(applied, layers)
}

// ApplyOptions say who applies and how.
type ApplyOptions struct {
	Options
	Actor string
	Now   time.Time
	// Digester made desired's digests; Apply stores its key when the
	// database has none.
	Digester Digester
	// Layers are the rotation layers' run-time states (LayerStates).
	Layers map[string]map[string]oncall.LayerState
}

// Apply carries out p, computed from desired against what the database
// holds, in tx: objects and secrets written or deleted, rotation layers
// the files change recorded as their latest state (unless drift there is
// kept), and the apply recorded. With Start, every object of desired is
// marked as the start file's version.
func Apply(tx *store.Tx, p Plan, desired, applied Set, o ApplyOptions) error {
	if len(o.Digester) > 0 {
		if _, err := tx.Exec(`INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`,
			digestKeySetting, hex.EncodeToString(o.Digester)); err != nil {
			return fmt.Errorf("store the digest key: %w", err)
		}
	}
	now := o.Now.UnixMilli()
	for _, c := range p.Changes {
		switch c.Action {
		case Create, Update:
			want := desired[c.Key]
			if err := putObject(tx, want, now, o.Actor); err != nil {
				return err
			}
			if c.Kind == KindSchedule {
				if err := applyLayers(tx, c.Name, applied[c.Key], want, o.Layers[c.Name], o); err != nil {
					return err
				}
			}
		case Delete:
			for _, q := range []string{`DELETE FROM config_objects WHERE kind = ? AND name = ?`, `DELETE FROM config_secrets WHERE kind = ? AND name = ?`} {
				if _, err := tx.Exec(q, c.Kind, c.Name); err != nil {
					return fmt.Errorf("delete %s: %w", c.Key, err)
				}
			}
		}
	}
	for _, k := range p.inSync {
		if err := putObject(tx, desired[k], now, o.Actor); err != nil {
			return err
		}
	}
	if o.Start {
		for k, want := range desired {
			if _, err := tx.Exec(`UPDATE config_objects SET start_digest = ? WHERE kind = ? AND name = ?`,
				startDigest(want), k.Kind, k.Name); err != nil {
				return fmt.Errorf("mark %s as the start file's: %w", k, err)
			}
		}
	}
	if !p.HasChanges() {
		return nil
	}
	summary, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(`INSERT INTO config_applies (at, actor, summary) VALUES (?, ?, ?)`, now, o.Actor, string(summary)); err != nil {
		return fmt.Errorf("record the apply: %w", err)
	}
	return nil
}

func putObject(tx *store.Tx, o Object, now int64, actor string) error {
	if _, err := tx.Exec(`INSERT INTO config_objects (kind, name, spec, position, source, applied_at, applied_by) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (kind, name) DO UPDATE SET spec = excluded.spec, position = excluded.position, source = excluded.source,
			applied_at = excluded.applied_at, applied_by = excluded.applied_by`,
		o.Kind, o.Name, string(o.Spec), o.Position, o.Source, now, actor); err != nil {
		return fmt.Errorf("store %s: %w", o.Key, err)
	}
	if _, err := tx.Exec(`DELETE FROM config_secrets WHERE kind = ? AND name = ?`, o.Kind, o.Name); err != nil {
		return fmt.Errorf("store %s: %w", o.Key, err)
	}
	for field, s := range o.Secrets {
		if _, err := tx.Exec(`INSERT INTO config_secrets (kind, name, field, value, ref) VALUES (?, ?, ?, ?, ?)`,
			o.Kind, o.Name, field, s.Value, s.Ref); err != nil {
			return fmt.Errorf("store %s: %w", o.Key, err)
		}
	}
	return nil
}

// applyLayers records, for each layer of a schedule that has run-time
// edits and whose state the files now set differently, the files' version
// as its latest state, so it wins over the edits (the latest row wins). A
// layer whose edits are drift that is kept is left alone.
func applyLayers(tx *store.Tx, schedule string, have, want Object, states map[string]oncall.LayerState, o ApplyOptions) error {
	type layer struct {
		Name         string   `json:"name"`
		Start        string   `json:"start"`
		Participants []string `json:"participants"`
	}
	read := func(spec json.RawMessage) map[string]layer {
		var s struct {
			Layers []layer `json:"layers"`
		}
		_ = json.Unmarshal(spec, &s)
		out := map[string]layer{}
		for _, l := range s.Layers {
			out[l.Name] = l
		}
		return out
	}
	haveL, wantL := read(have.Spec), read(want.Spec)
	for name, w := range wantL {
		st, edited := states[name]
		if !edited || sameLayer(w.Participants, w.Start, st.Participants, st.Start) {
			continue // the configuration rules, or live already is what the files say
		}
		h, wasApplied := haveL[name]
		drifted := !wasApplied || !sameLayer(st.Participants, st.Start, h.Participants, h.Start)
		if drifted && !o.OverwriteDrift {
			continue
		}
		what := "applied from configuration"
		if drifted {
			what = "applied from configuration over run-time edits (--overwrite-drift)"
		}
		if err := oncall.SetLayerState(tx, schedule, name, w.Participants, w.Start, o.Actor, what, o.Now); err != nil {
			return err
		}
	}
	return nil
}

func sameLayer(p1 []string, s1 string, p2 []string, s2 string) bool {
	if len(p1) != len(p2) {
		return false
	}
	for i := range p1 {
		if p1[i] != p2[i] {
			return false
		}
	}
	return s1 == s2 || sameWall(s1, s2)
}

// LayerStatesOf returns the rotation layers' run-time states, for Apply.
func LayerStatesOf(ctx context.Context, db *sql.DB) (map[string]map[string]oncall.LayerState, error) {
	return oncall.LayerStates(ctx, db)
}
