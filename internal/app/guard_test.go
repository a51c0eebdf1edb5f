package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/oncallbot/bot/internal/outbox"
)

// fakeGuard answers BeginSend from a table and records every call.
type fakeGuard struct {
	begin    map[string]bool  // key -> proceed; missing keys proceed
	beginErr map[string]error // key -> error from BeginSend
	calls    []string
}

func (g *fakeGuard) BeginSend(_ context.Context, keys []string) ([]bool, error) {
	proceed := make([]bool, len(keys))
	var failed error
	for i, key := range keys {
		g.calls = append(g.calls, "begin "+key)
		if err := g.beginErr[key]; err != nil {
			failed = err
		}
		ok, set := g.begin[key]
		proceed[i] = ok || !set
	}
	if failed != nil {
		return nil, failed // one write: none of the keys is marked
	}
	return proceed, nil
}

func (g *fakeGuard) AbortSend(_ context.Context, keys []string) error {
	for _, key := range keys {
		g.calls = append(g.calls, "abort "+key)
	}
	return nil
}

func (g *fakeGuard) NotificationSent(_ context.Context, keys []string, providerID string) error {
	if providerID != "" {
		g.calls = append(g.calls, fmt.Sprintf("sent %v as %s", keys, providerID))
		return nil
	}
	g.calls = append(g.calls, fmt.Sprintf("sent %v", keys))
	return nil
}

// fakeSender delivers pages one at a time or as a batch, failing on
// demand, and records what it was given.
type fakeSender struct {
	batch bool
	err   error
	got   []string // one entry per call: the keys it carried
}

func (s *fakeSender) Deliver(_ context.Context, m outbox.Message) error {
	s.got = append(s.got, pageKey(m))
	return s.err
}

type batchSender struct{ *fakeSender }

func (s batchSender) DeliverBatch(_ context.Context, ms []outbox.Message) error {
	var keys []string
	for _, m := range ms {
		keys = append(keys, pageKey(m))
	}
	s.got = append(s.got, fmt.Sprint(keys))
	return s.err
}

func page(key string) outbox.Message {
	return outbox.Message{Payload: []byte(`{"key":"` + key + `"}`)}
}

func TestGuardedConsumerMarksBeforeSendingAndNeverRepeats(t *testing.T) {
	boom := errors.New("provider down")
	cases := []struct {
		name      string
		guard     fakeGuard
		sender    fakeSender
		pages     []string
		wantErr   bool
		wantSent  []string // what reached the sender, per call
		wantCalls []string // what the guard heard, in order
	}{
		{name: "a page is marked, sent, then recorded sent",
			pages: []string{"k1"}, wantSent: []string{"k1"},
			wantCalls: []string{"begin k1", "sent [k1]"}},
		{name: "a page the guard refuses (already sent) is not sent again",
			guard:  fakeGuard{begin: map[string]bool{"k1": false}},
			sender: fakeSender{batch: true}, pages: []string{"k1", "k2"}, wantSent: []string{"k2"},
			wantCalls: []string{"begin k1", "begin k2", "sent [k2]"}},
		{name: "nothing to send sends nothing",
			guard: fakeGuard{begin: map[string]bool{"k1": false}},
			pages: []string{"k1"}, wantSent: nil,
			wantCalls: []string{"begin k1"}},
		{name: "a failed send clears the marks for the retry",
			sender: fakeSender{err: boom}, pages: []string{"k1"}, wantErr: true, wantSent: []string{"k1"},
			wantCalls: []string{"begin k1", "abort k1"}},
		{name: "a failed mark sends nothing (the marks are one write: nothing to clear)",
			guard:  fakeGuard{beginErr: map[string]error{"k2": boom}},
			sender: fakeSender{batch: true}, pages: []string{"k1", "k2"}, wantErr: true, wantSent: nil,
			wantCalls: []string{"begin k1", "begin k2"}},
		{name: "a batch goes out in one call",
			sender: fakeSender{batch: true}, pages: []string{"k1", "k2"}, wantSent: []string{"[k1 k2]"},
			wantCalls: []string{"begin k1", "begin k2", "sent [k1 k2]"}},
		{name: "a failed batch clears every mark",
			sender: fakeSender{batch: true, err: boom}, pages: []string{"k1", "k2"}, wantErr: true, wantSent: []string{"[k1 k2]"},
			wantCalls: []string{"begin k1", "begin k2", "abort k1", "abort k2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var next outbox.Consumer = &c.sender
			if c.sender.batch {
				next = batchSender{&c.sender}
			}
			var ms []outbox.Message
			for _, k := range c.pages {
				ms = append(ms, page(k))
			}
			var err error
			switch g := guard(next, &c.guard).(type) {
			case outbox.BatchConsumer:
				err = g.DeliverBatch(context.Background(), ms)
			default:
				if len(ms) != 1 {
					t.Fatal("a consumer of single pages is given one at a time")
				}
				err = g.Deliver(context.Background(), ms[0])
			}
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			if !slices.Equal(c.sender.got, c.wantSent) {
				t.Errorf("sent %v, want %v", c.sender.got, c.wantSent)
			}
			if !slices.Equal(c.guard.calls, c.wantCalls) {
				t.Errorf("guard heard %v, want %v", c.guard.calls, c.wantCalls)
			}
		})
	}
}

// A consumer that sends page by page must never get a batch: a failure
// after the first page went out would have the retry page again.
func TestGuardBatchesOnlyForBatchConsumers(t *testing.T) {
	if _, ok := guard(&fakeSender{}, &fakeGuard{}).(outbox.BatchConsumer); ok {
		t.Fatal("a page-by-page consumer is offered batches")
	}
	if _, ok := guard(batchSender{&fakeSender{}}, &fakeGuard{}).(outbox.BatchConsumer); !ok {
		t.Fatal("a batch consumer lost its batches")
	}
}

// receiptSender says where each page went.
type receiptSender struct{ fakeSender }

func (s *receiptSender) DeliverReceipt(_ context.Context, m outbox.Message) (string, error) {
	s.got = append(s.got, pageKey(m))
	return "dm-of-" + pageKey(m), s.err
}

func TestGuardKeepsTheReceipt(t *testing.T) {
	g := &fakeGuard{}
	s := &receiptSender{}
	if err := guard(s, g).Deliver(context.Background(), page("k1")); err != nil {
		t.Fatal(err)
	}
	if want := []string{"begin k1", "sent [k1] as dm-of-k1"}; !slices.Equal(g.calls, want) {
		t.Fatalf("guard heard %v, want %v", g.calls, want)
	}
}

// receiptBatchSender is a batch consumer that gives receipts for single
// pages, as the chat pager does.
type receiptBatchSender struct{ receiptSender }

func (s *receiptBatchSender) DeliverBatch(_ context.Context, ms []outbox.Message) error {
	var keys []string
	for _, m := range ms {
		keys = append(keys, pageKey(m))
	}
	s.got = append(s.got, fmt.Sprint(keys))
	return s.err
}

// Only a single page's delivery has a receipt: a digest of several pages
// (one chat message for all) is never kept as any page's receipt, so the
// deliverer, which edits a page's card to its incident's, never
// overwrites a digest with one incident's card.
func TestGuardKeepsReceiptsOfSinglePagesOnly(t *testing.T) {
	cases := []struct {
		name      string
		guard     fakeGuard
		pages     []string
		wantSent  []string
		wantCalls []string
	}{
		{name: "a batch goes out as one, with no receipt", pages: []string{"k1", "k2"},
			wantSent: []string{"[k1 k2]"}, wantCalls: []string{"begin k1", "begin k2", "sent [k1 k2]"}},
		{name: "a batch down to one page goes as that page, with its receipt", guard: fakeGuard{begin: map[string]bool{"k1": false}},
			pages: []string{"k1", "k2"}, wantSent: []string{"k2"}, wantCalls: []string{"begin k1", "begin k2", "sent [k2] as dm-of-k2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &receiptBatchSender{}
			g, ok := guard(s, &c.guard).(outbox.BatchConsumer)
			if !ok {
				t.Fatal("a batch consumer lost its batches")
			}
			var ms []outbox.Message
			for _, k := range c.pages {
				ms = append(ms, page(k))
			}
			if err := g.DeliverBatch(context.Background(), ms); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(s.got, c.wantSent) {
				t.Errorf("sent %v, want %v", s.got, c.wantSent)
			}
			if !slices.Equal(c.guard.calls, c.wantCalls) {
				t.Errorf("guard heard %v, want %v", c.guard.calls, c.wantCalls)
			}
		})
	}
}
