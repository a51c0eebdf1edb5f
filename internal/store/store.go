// Package store owns the bot's SQLite database: the schema and its embedded
// migrations, one writer that commits many callers' work in one transaction
// (group commit), and a pool of read-only connections.
//
// Every change the bot makes goes through Store.Write. A write returns only
// after its transaction is durable on disk, which is what lets the HTTP
// layer answer 202 to a monitoring system and mean it. Concurrent writers
// share one transaction and one fsync (group commit), and the fsync is
// pipelined: SQLite commits to the WAL without syncing (synchronous=NORMAL),
// the writer moves on to the next batch at once, and a syncer goroutine
// fsyncs the WAL file and only then answers the batches committed before
// that fsync began. One caller's error undoes only its own changes.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"
)

//go:embed migrations/*.sql
var migrations embed.FS

// maxBatch bounds how many callers share one transaction, so one commit
// never holds a caller back for long behind thousands of others.
const maxBatch = 512

// Store is the database. Use Write for every change and Read for queries.
type Store struct {
	path   string
	writer *sql.DB
	conn   *sql.Conn
	reader *sql.DB
	log    *slog.Logger

	jobs chan *job
	quit chan struct{}
	done chan struct{}

	// wal is the WAL file, kept open to fsync it; syncq carries committed
	// batches from the writer to the syncer.
	wal      *os.File
	syncq    chan []*job
	syncDone chan struct{}

	closeOnce sync.Once
	// mu guards closed: Write holds it shared while it enqueues, so Close
	// cannot slip between the check and the send and strand a caller.
	mu     sync.RWMutex
	closed bool
	// stmts caches prepared statements of the writer connection; only the
	// writer goroutine touches it.
	stmts map[string]*sql.Stmt
}

// Options tune Open.
type Options struct {
	Logger *slog.Logger
	// ReadConns is the size of the read-only pool (default 4).
	ReadConns int
}

type job struct {
	ctx  context.Context
	fn   func(*Tx) error
	err  chan error
	tx   *Tx
	fail error
}

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("store: closed")

// Open opens (creating if needed) the database at path, applies pending
// migrations and starts the writer.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ReadConns <= 0 {
		opts.ReadConns = 4
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
	}
	writer, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetMaxIdleConns(1)
	if err := migrate(ctx, writer); err != nil {
		writer.Close()
		return nil, err
	}
	conn, err := writer.Conn(ctx)
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("open writer connection: %w", err)
	}
	reader, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		conn.Close()
		writer.Close()
		return nil, fmt.Errorf("open read pool: %w", err)
	}
	reader.SetMaxOpenConns(opts.ReadConns)
	reader.SetMaxIdleConns(opts.ReadConns)
	// A write makes sure the WAL file exists before it is opened for fsync;
	// it lives as long as this process holds connections.
	if _, err := conn.ExecContext(ctx, "UPDATE health SET checks = checks + 1 WHERE id = 1"); err != nil {
		reader.Close()
		conn.Close()
		writer.Close()
		return nil, fmt.Errorf("first write: %w", err)
	}
	wal, err := os.OpenFile(path+"-wal", os.O_RDWR, 0)
	if err == nil {
		err = syncData(wal) // the migrations, committed without a sync
	}
	if err != nil {
		reader.Close()
		conn.Close()
		writer.Close()
		return nil, fmt.Errorf("open WAL for syncing: %w", err)
	}
	s := &Store{
		path:     path,
		writer:   writer,
		conn:     conn,
		reader:   reader,
		log:      opts.Logger,
		jobs:     make(chan *job, maxBatch),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
		wal:      wal,
		syncq:    make(chan []*job, 64),
		syncDone: make(chan struct{}),
		stmts:    make(map[string]*sql.Stmt),
	}
	go s.run()
	go s.syncer()
	return s, nil
}

func dsn(path string, readOnly bool) string {
	q := url.Values{}
	for _, p := range []string{
		"journal_mode(WAL)",
		// NORMAL: commits do not fsync; the syncer does, once for many
		// commits, before any of their callers hears back (see Store).
		// Checkpoints still sync the WAL and the database file.
		"synchronous(NORMAL)",
		"busy_timeout(10000)",
		"foreign_keys(ON)",
		"temp_store(MEMORY)",
		"cache_size(-16000)",
	} {
		q.Add("_pragma", p)
	}
	if readOnly {
		q.Add("_pragma", "query_only(ON)")
	}
	return "file:" + path + "?" + q.Encode()
}

func migrate(ctx context.Context, db *sql.DB) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Read returns the read-only pool. Reads see every committed write.
func (s *Store) Read() *sql.DB { return s.reader }

// Close stops the writer after the work already queued, and closes the
// database.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.quit)
		<-s.done
		<-s.syncDone
		for _, st := range s.stmts {
			st.Close()
		}
		err = errors.Join(s.wal.Close(), s.conn.Close(), s.reader.Close(), s.writer.Close())
	})
	return err
}

// Write runs fn in a transaction and returns once that transaction is
// committed and synced to disk, or fn's error. fn may share its transaction
// with other callers; an error from fn rolls back only fn's own changes.
// fn may run more than once (when another job of its batch fails, the batch
// runs again with savepoints), so it must reach the database only through
// its Tx and set afresh on each run whatever state it keeps. It must not
// block on anything but the database, and must not call Write.
func (s *Store) Write(ctx context.Context, fn func(*Tx) error) error {
	j := &job{ctx: ctx, fn: fn, err: make(chan error, 1)}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	select {
	case s.jobs <- j:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		return ctx.Err()
	}
	// Once queued, wait for the outcome even if ctx ends: the work may
	// commit, and the caller must not believe otherwise.
	return <-j.err
}

func (s *Store) run() {
	defer close(s.done)
	defer close(s.syncq)
	batch := make([]*job, 0, maxBatch)
	for {
		var first *job
		select {
		case first = <-s.jobs:
		case <-s.quit:
			// Finish what is queued so no accepted caller is dropped.
			for {
				select {
				case j := <-s.jobs:
					s.commit(append(batch[:0], j))
				default:
					return
				}
			}
		}
		batch = append(batch[:0], first)
	drain:
		for len(batch) < maxBatch {
			select {
			case j := <-s.jobs:
				batch = append(batch, j)
			default:
				break drain
			}
		}
		s.commit(batch)
	}
}

// commit runs a batch of jobs in one transaction. It first runs them
// plainly, which costs nothing per job; only if one fails does it roll the
// batch back and run it again with a savepoint around each job, so the
// failure undoes only its own job's changes.
func (s *Store) commit(batch []*job) {
	if !s.attempt(batch, false) {
		s.attempt(batch, true)
	}
}

// attempt runs the batch once. Without savepoints it gives up (rolls back
// and returns false) at the first failing job; with them it always
// finishes. It answers every job when it returns true.
func (s *Store) attempt(batch []*job, savepoints bool) bool {
	if err := s.execCached("BEGIN IMMEDIATE"); err != nil {
		err = fmt.Errorf("begin transaction: %w", err)
		for _, j := range batch {
			j.err <- err
		}
		return true
	}
	ok := 0
	for _, j := range batch {
		if err := j.ctx.Err(); err != nil {
			j.fail = err
			continue
		}
		j.tx = &Tx{ctx: j.ctx, s: s}
		j.fail = s.runJob(j, savepoints)
		if j.fail == nil {
			ok++
		} else if !savepoints {
			if err := s.execCached("ROLLBACK"); err != nil {
				s.log.Error("rollback of a batch with a failed job", "err", err)
			}
			return false
		}
	}
	var commitErr error
	if ok > 0 {
		if err := s.execCached("COMMIT"); err != nil {
			commitErr = fmt.Errorf("commit: %w", err)
			if rerr := s.execCached("ROLLBACK"); rerr != nil {
				s.log.Error("rollback after failed commit", "err", rerr)
			}
		}
	} else if err := s.execCached("ROLLBACK"); err != nil {
		s.log.Error("rollback of an all-failed batch", "err", err)
	}
	var committed []*job
	for _, j := range batch {
		switch {
		case j.fail != nil:
			j.err <- j.fail
		case commitErr != nil:
			j.err <- commitErr
		default:
			committed = append(committed, j)
		}
	}
	if len(committed) > 0 {
		s.syncq <- committed
	}
	return true
}

// syncer makes committed batches durable: one fsync of the WAL covers every
// batch committed before it began. Only then do their after-commit hooks
// run and their callers hear back, in commit order.
func (s *Store) syncer() {
	defer close(s.syncDone)
	var pending [][]*job
	for first := range s.syncq {
		pending = append(pending[:0], first)
	more:
		for {
			select {
			case b, ok := <-s.syncq:
				if !ok {
					break more
				}
				pending = append(pending, b)
			default:
				break more
			}
		}
		err := syncData(s.wal)
		if err != nil {
			err = fmt.Errorf("sync WAL to disk: %w", err)
			s.log.Error("fsync failed; callers are told their writes may be lost", "err", err)
		}
		for _, b := range pending {
			for _, j := range b {
				if err != nil {
					j.err <- err
					continue
				}
				for _, f := range j.tx.after {
					f()
				}
				j.err <- nil
			}
		}
	}
}

// runJob runs one job, inside a savepoint if asked, turning a panic into
// an error so one bad caller cannot take the writer, and every other
// caller, down.
func (s *Store) runJob(j *job, savepoint bool) (err error) {
	if savepoint {
		if err := s.execCached("SAVEPOINT job"); err != nil {
			return fmt.Errorf("savepoint: %w", err)
		}
	}
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic in store write", "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("internal error in database write: %v", r)
		}
		if !savepoint {
			return
		}
		if err != nil {
			if rerr := s.execCached("ROLLBACK TO job"); rerr != nil {
				err = errors.Join(err, fmt.Errorf("rollback to savepoint: %w", rerr))
			}
		}
		if rerr := s.execCached("RELEASE job"); rerr != nil {
			err = errors.Join(err, fmt.Errorf("release savepoint: %w", rerr))
		}
	}()
	if err := j.fn(j.tx); err != nil {
		return err
	}
	for _, f := range j.tx.before {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

// execCached runs a statement of the writer's own (transaction control),
// prepared once: parsing BEGIN and SAVEPOINT for every caller adds up.
func (s *Store) execCached(query string) error {
	st, err := s.stmt(query)
	if err != nil {
		return err
	}
	_, err = st.Exec()
	return err
}

func (s *Store) stmt(query string) (*sql.Stmt, error) {
	if st, ok := s.stmts[query]; ok {
		return st, nil
	}
	st, err := s.conn.PrepareContext(context.Background(), query)
	if err != nil {
		return nil, fmt.Errorf("prepare %q: %w", query, err)
	}
	s.stmts[query] = st
	return st, nil
}

// Tx is one caller's view of the shared write transaction. It is valid
// only inside the function given to Write.
type Tx struct {
	ctx    context.Context
	s      *Store
	after  []func()
	before []func() error
	locals map[any]any
}

// BeforeCommit registers f to run when the caller's function has returned
// without error, still inside its transaction: a domain settles there what
// it gathered while it wrote (see Local). An error from f fails the
// caller's work as its own error would.
func (tx *Tx) BeforeCommit(f func() error) { tx.before = append(tx.before, f) }

// Local returns the value a caller keeps under key for the rest of its
// work in this transaction, made by mk the first time: state a domain
// gathers while it writes and settles before it returns (a burst of
// alerts to announce as one). Each run of the caller's function starts
// without any.
func (tx *Tx) Local(key any, mk func() any) any {
	if v, ok := tx.locals[key]; ok {
		return v
	}
	if tx.locals == nil {
		tx.locals = map[any]any{}
	}
	v := mk()
	tx.locals[key] = v
	return v
}

// Context returns the caller's context.
func (tx *Tx) Context() context.Context { return tx.ctx }

// Exec runs a statement. Statements are prepared once and cached, so pass
// constant query strings with ? parameters.
func (tx *Tx) Exec(query string, args ...any) (sql.Result, error) {
	st, err := tx.s.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(context.Background(), args...)
}

// QueryRow runs a query expected to return at most one row.
func (tx *Tx) QueryRow(query string, args ...any) *sql.Row {
	st, err := tx.s.stmt(query)
	if err != nil {
		// A *sql.Row cannot be made with an error from outside
		// database/sql; running the query unprepared reports the same
		// error through Scan.
		return tx.s.conn.QueryRowContext(context.Background(), query, args...)
	}
	return st.QueryRowContext(context.Background(), args...)
}

// Query runs a query returning rows. Close the rows before the next call.
func (tx *Tx) Query(query string, args ...any) (*sql.Rows, error) {
	st, err := tx.s.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(context.Background(), args...)
}

// Try runs fn inside a savepoint of the transaction: if fn fails, what it
// changed is undone and its error returned, and the rest of the
// transaction goes on (a step that may fail without failing its caller:
// the first page of an incident opened by an alert, which a timer can
// retry). Savepoints nest, so Try works whether or not the batch runs
// with savepoints of its own.
func (tx *Tx) Try(fn func() error) error {
	if _, err := tx.Exec("SAVEPOINT try"); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	err := fn()
	if err != nil {
		if _, rerr := tx.Exec("ROLLBACK TO try"); rerr != nil {
			return errors.Join(err, fmt.Errorf("rollback to savepoint: %w", rerr))
		}
	}
	if _, rerr := tx.Exec("RELEASE try"); rerr != nil {
		return errors.Join(err, fmt.Errorf("release savepoint: %w", rerr))
	}
	return err
}

// AfterCommit registers f to run after the transaction commits, such as
// waking a loop that reads what this transaction wrote. f does not run if
// the work rolls back.
func (tx *Tx) AfterCommit(f func()) { tx.after = append(tx.after, f) }

// Ping checks that the database accepts a write, for readiness probes.
func (s *Store) Ping(ctx context.Context) error {
	return s.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec("UPDATE health SET checks = checks + 1 WHERE id = 1")
		return err
	})
}
