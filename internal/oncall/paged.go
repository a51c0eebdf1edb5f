package oncall

import (
	"context"
	"fmt"
)

// PagedTriggered lists, oldest first, the incidents still triggered that
// paged person: those with a notification to them in the send log that
// is on its way or went out (queued, sent or delivered; a page that
// never left, undeliverable or failed, did not reach them), by any
// method, from any step or an assignment. It is what "ack all"
// acknowledges. Like LatestPaged it reads the incidents' status in the
// same query; it walks the triggered incidents (an index) and probes
// each one's notifications, so its cost follows what is open, not the
// whole log.
func (e *Engine) PagedTriggered(ctx context.Context, person string) ([]int64, error) {
	rows, err := e.store.Read().QueryContext(ctx, `SELECT i.id FROM incidents i
		WHERE i.status = 'triggered' AND EXISTS (SELECT 1 FROM notifications n
			WHERE n.incident_id = i.id AND n.person = ? AND n.state IN ('queued', 'sent', 'delivered'))
		ORDER BY i.id`, person)
	if err != nil {
		return nil, fmt.Errorf("list the incidents paging %s: %w", person, err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list the incidents paging %s: %w", person, err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list the incidents paging %s: %w", person, err)
	}
	return ids, nil
}
