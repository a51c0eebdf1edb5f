package app

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/oncallbot/bot/internal/outbox"
)

// sendGuard is what guardedConsumer needs of the escalation engine.
type sendGuard interface {
	BeginSend(ctx context.Context, keys []string) ([]bool, error)
	AbortSend(ctx context.Context, keys []string) error
	NotificationSent(ctx context.Context, keys []string, providerID string) error
}

// receiptConsumer is a consumer that says where a page went (a chat
// page: the messages holding its card), for the notification log to keep
// as the page's provider id, in the write that marks the page sent.
type receiptConsumer interface {
	DeliverReceipt(ctx context.Context, m outbox.Message) (string, error)
}

// guardedConsumer wraps a contact method's consumer so a page is marked
// before it is sent: after a crash mid-send the retry finds the mark and
// does not page twice (see Engine.BeginSend).
type guardedConsumer struct {
	next  outbox.Consumer
	guard sendGuard
}

func pageKey(m outbox.Message) string {
	var p struct{ Key string }
	_ = json.Unmarshal(m.Payload, &p) // a bad payload fails in the consumer
	return p.Key
}

// guard wraps next: a batch consumer stays one (several pages as one
// SMS), others are handed one message at a time. A batch's outcome is
// all or nothing, so a consumer that sends page by page must not be
// given several: a failure after the first was sent would have the retry
// send that first one again.
func guard(next outbox.Consumer, g sendGuard) outbox.Consumer {
	gc := guardedConsumer{next: next, guard: g}
	if _, ok := next.(outbox.BatchConsumer); ok {
		return guardedBatchConsumer{gc}
	}
	return gc
}

// guardedBatchConsumer is a guardedConsumer around a batch consumer.
type guardedBatchConsumer struct{ guardedConsumer }

func (g guardedBatchConsumer) DeliverBatch(ctx context.Context, ms []outbox.Message) error {
	return g.deliver(ctx, ms)
}

func (g guardedConsumer) Deliver(ctx context.Context, m outbox.Message) error {
	return g.deliver(ctx, []outbox.Message{m})
}

func (g guardedConsumer) deliver(ctx context.Context, ms []outbox.Message) error {
	all := make([]string, len(ms))
	for i, m := range ms {
		all[i] = pageKey(m)
	}
	// One write marks them all, or none: a failure leaves nothing to undo.
	proceed, err := g.guard.BeginSend(ctx, all)
	if err != nil {
		return err
	}
	var send []outbox.Message
	var keys []string
	for i, m := range ms {
		if proceed[i] {
			send = append(send, m)
			keys = append(keys, all[i])
		}
	}
	if len(send) == 0 {
		return nil
	}
	receipt := ""
	if bc, ok := g.next.(outbox.BatchConsumer); ok && len(send) > 1 {
		err = bc.DeliverBatch(ctx, send)
	} else if rc, ok := g.next.(receiptConsumer); ok {
		receipt, err = rc.DeliverReceipt(ctx, send[0])
	} else {
		err = g.next.Deliver(ctx, send[0]) // one message: see guard
	}
	if err != nil {
		return errors.Join(err, g.guard.AbortSend(ctx, keys))
	}
	// Consumers that know their provider's id (Twilio's SID) have
	// recorded it; the rest are marked sent here, with the receipt of a
	// receipt consumer (a no-op for pages already marked).
	return g.guard.NotificationSent(ctx, keys, receipt)
}

var _ outbox.BatchConsumer = guardedBatchConsumer{}
