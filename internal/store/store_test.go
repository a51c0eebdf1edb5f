package store

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
)

func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "bot.db"), Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func insertTimer(tx *Tx, kind string) error {
	_, err := tx.Exec("INSERT INTO timers (kind, due_at, created_at) VALUES (?, 0, 0)", kind)
	return err
}

func countTimers(t *testing.T, s *Store, kind string) int {
	t.Helper()
	var n int
	if err := s.Read().QueryRow("SELECT count(*) FROM timers WHERE kind = ?", kind).Scan(&n); err != nil {
		t.Fatalf("count: %v", err)
	}
	return n
}

func TestWriteIsolatesFailingCallers(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errBoom := errors.New("boom")
	results := make([]error, 200)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = s.Write(ctx, func(tx *Tx) error {
				if err := insertTimer(tx, "t"); err != nil {
					return err
				}
				switch i % 10 {
				case 3:
					return errBoom // its insert must vanish
				case 7:
					panic("bad caller") // must not take the writer down
				}
				return nil
			})
		}()
	}
	wg.Wait()
	var ok, boom, panicked int
	for i, err := range results {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, errBoom):
			boom++
		case i%10 == 7 && err != nil:
			panicked++
		default:
			t.Errorf("caller %d: unexpected error %v", i, err)
		}
	}
	if ok != 160 || boom != 20 || panicked != 20 {
		t.Fatalf("ok=%d boom=%d panicked=%d, want 160/20/20", ok, boom, panicked)
	}
	if got := countTimers(t, s, "t"); got != 160 {
		t.Fatalf("rows committed = %d, want 160 (only successful callers)", got)
	}
}

func TestAfterCommitRunsOnlyOnSuccess(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	var ran []string
	_ = s.Write(ctx, func(tx *Tx) error {
		tx.AfterCommit(func() { ran = append(ran, "ok") })
		return insertTimer(tx, "a")
	})
	_ = s.Write(ctx, func(tx *Tx) error {
		tx.AfterCommit(func() { ran = append(ran, "failed") })
		return errors.New("no")
	})
	if len(ran) != 1 || ran[0] != "ok" {
		t.Fatalf("after-commit hooks ran %v, want [ok]", ran)
	}
}

func TestDataSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bot.db")
	ctx := context.Background()
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, func(tx *Tx) error { return insertTimer(tx, "kept") }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, func(tx *Tx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close = %v, want ErrClosed", err)
	}
	s2, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("reopen (migrations must be idempotent): %v", err)
	}
	defer s2.Close()
	if got := countTimers(t, s2, "kept"); got != 1 {
		t.Fatalf("after reopen rows = %d, want 1", got)
	}
}

func TestReadPoolIsReadOnly(t *testing.T) {
	s := openTemp(t)
	if _, err := s.Read().Exec("INSERT INTO timers (kind, due_at, created_at) VALUES ('x', 0, 0)"); err == nil {
		t.Fatal("insert through the read pool succeeded; it must be query-only")
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func BenchmarkWriteGroupCommit(b *testing.B) {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "bot.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Write(context.Background(), func(tx *Tx) error { return insertTimer(tx, "b") }); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func TestTryUndoesOnlyWhatFailed(t *testing.T) {
	s := openTemp(t)
	boom := errors.New("boom")
	err := s.Write(context.Background(), func(tx *Tx) error {
		if _, err := tx.Exec("UPDATE health SET checks = 100 WHERE id = 1"); err != nil {
			return err
		}
		if err := tx.Try(func() error {
			if _, err := tx.Exec("UPDATE health SET checks = 200 WHERE id = 1"); err != nil {
				return err
			}
			return boom
		}); !errors.Is(err, boom) {
			t.Errorf("Try = %v, want boom", err)
		}
		return tx.Try(func() error {
			_, err := tx.Exec("UPDATE health SET checks = checks + 1 WHERE id = 1")
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.Read().QueryRow("SELECT checks FROM health WHERE id = 1").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 101 {
		t.Errorf("checks = %d, want 101: the failed try undone, the rest kept", n)
	}
}
