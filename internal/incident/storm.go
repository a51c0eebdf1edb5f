package incident

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/oncallbot/bot/internal/store"
	"github.com/oncallbot/bot/internal/timer"
)

// Storm mode (a route's `storm`): when a cluster falls over, thousands of
// new incidents in minutes would each open a room and page the same
// person, and no platform lets a bot make thousands of rooms (Slack takes
// about 20 channels a minute). Past the route's threshold, new incidents
// join one storm incident instead: it has the one room and the one page,
// its card counts them, and acknowledging or resolving it does the same to
// every incident in it. Each incident that joined is still its own in the
// API, with its own alerts and timeline, and can be worked one by one.

// stormKey is the group of a route's storm incident: one open at a time.
func stormKey(route string) string { return "storm/" + route }

// stormOf returns the open storm incident of p's route, opening one when
// the route's team has just passed the threshold; 0 when the route has no
// storm mode or is not in a storm.
func (s *Service) stormOf(tx *store.Tx, now time.Time, p *prepared) (int64, error) {
	st := p.route.Storm
	if st == nil {
		return 0, nil
	}
	id, _, err := s.openIncidentOf(tx, stormKey(p.route.Name))
	if err != nil || id != 0 {
		return id, err
	}
	// Counting stops at the threshold: the cost of the check never grows
	// with the storm.
	var recent int
	if err := tx.QueryRow(`SELECT count(*) FROM (SELECT 1 FROM incidents
		WHERE team = ? AND created_at >= ? AND parent_id IS NULL LIMIT ?)`,
		p.route.Team, now.Add(-st.Within).UnixMilli(), st.After).Scan(&recent); err != nil {
		return 0, fmt.Errorf("count recent incidents of team %s: %w", p.route.Team, err)
	}
	if recent < st.After {
		return 0, nil
	}
	ms := now.UnixMilli()
	pageAt := pageTime(now, now, p.route.AlertDelay)
	title := fmt.Sprintf("Alert storm: %s (%d new incidents within %s)", p.route.Team, st.After, st.Within)
	res, err := tx.Exec(`INSERT INTO incidents (group_key, route, team, policy, title, severity, status, created_at, updated_at, page_at)
		VALUES (?, ?, ?, ?, ?, ?, 'triggered', ?, ?, ?)`,
		stormKey(p.route.Name), p.route.Name, p.route.Team, p.route.Policy, title, p.Severity, ms, ms, pageAt.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("open storm incident: %w", err)
	}
	if id, err = res.LastInsertId(); err != nil {
		return 0, fmt.Errorf("open storm incident: %w", err)
	}
	if pageAt.After(now) {
		if err := s.armPage(tx, now, id, pageAt); err != nil {
			return 0, err
		}
	}
	if err := s.record(tx, now, id, KindTriggered, "bot", nil,
		fmt.Sprintf("route %s passed %d new incidents within %s: the next ones join this incident, its room and its paging",
			p.route.Name, st.After, st.Within)); err != nil {
		return 0, err
	}
	if !pageAt.After(now) {
		return id, s.startPaging(tx, now, id)
	}
	return id, nil
}

// joinStorm opens the incident of p as one of storm's: no room and no
// page of its own, counted on the storm's card.
func (s *Service) joinStorm(tx *store.Tx, now time.Time, p *prepared, storm int64) (int64, error) {
	ms := now.UnixMilli()
	res, err := tx.Exec(`INSERT INTO incidents (group_key, route, team, policy, title, severity, status, created_at, updated_at, page_at, parent_id)
		VALUES (?, ?, ?, ?, ?, ?, 'triggered', ?, ?, ?, ?)`,
		p.groupKey, p.route.Name, p.route.Team, p.route.Policy, p.Summary, p.Severity, ms, ms, ms, storm)
	if err != nil {
		return 0, fmt.Errorf("open incident in storm %d: %w", storm, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("open incident in storm %d: %w", storm, err)
	}
	if _, err := tx.Exec(`UPDATE incidents SET children = children + 1, open_children = open_children + 1,
		severity = MAX(severity, ?), updated_at = ? WHERE id = ?`, p.Severity, ms, storm); err != nil {
		return 0, fmt.Errorf("count incident %d in storm %d: %w", id, storm, err)
	}
	return id, nil
}

// recordJoin tells both timelines that incident id joined storm.
func (s *Service) recordJoin(tx *store.Tx, now time.Time, id, storm int64, title string) error {
	if err := s.record(tx, now, id, KindJoinedStorm, "bot", nil,
		fmt.Sprintf("joined storm #%d: its room and its paging cover this incident", storm)); err != nil {
		return err
	}
	return s.record(tx, now, storm, KindStormJoined, "bot", nil, fmt.Sprintf("#%d %s", id, title))
}

// childClosed counts one of storm's incidents resolved; the last one
// resolves the storm.
func (s *Service) childClosed(tx *store.Tx, now time.Time, storm int64) error {
	var open int
	var status Status
	err := tx.QueryRow(`UPDATE incidents SET open_children = MAX(open_children - 1, 0), updated_at = ?
		WHERE id = ? RETURNING open_children, status`, now.UnixMilli(), storm).Scan(&open, &status)
	if err != nil {
		return fmt.Errorf("count a resolved incident of storm %d: %w", storm, err)
	}
	if open > 0 || status == StatusResolved {
		return nil
	}
	ms := now.UnixMilli()
	if _, err := tx.Exec(`UPDATE incidents SET status = 'resolved', resolved_at = ?, resolved_by = 'bot', updated_at = ? WHERE id = ?`,
		ms, ms, storm); err != nil {
		return fmt.Errorf("resolve storm %d: %w", storm, err)
	}
	if err := s.stopPaging(tx, now, storm, "bot"); err != nil {
		return err
	}
	return s.record(tx, now, storm, KindResolved, "bot", nil, "every incident of the storm is resolved")
}

// childReopened counts one of storm's incidents open again, and says
// whether it stays in the storm: a storm already resolved lets it go, to
// page on its own.
func (s *Service) childReopened(tx *store.Tx, now time.Time, id, storm int64) (bool, error) {
	var status Status
	err := tx.QueryRow(`SELECT status FROM incidents WHERE id = ?`, storm).Scan(&status)
	if err != nil {
		return false, fmt.Errorf("load storm %d: %w", storm, err)
	}
	if status == StatusResolved {
		if _, err := tx.Exec(`UPDATE incidents SET parent_id = NULL WHERE id = ?`, id); err != nil {
			return false, fmt.Errorf("let incident %d leave storm %d: %w", id, storm, err)
		}
		return false, nil
	}
	if _, err := tx.Exec(`UPDATE incidents SET open_children = open_children + 1, updated_at = ? WHERE id = ?`,
		now.UnixMilli(), storm); err != nil {
		return false, fmt.Errorf("count incident %d open again in storm %d: %w", id, storm, err)
	}
	return true, nil
}

// parentOf returns the storm an incident is in, 0 for none.
func parentOf(tx *store.Tx, id int64) (int64, error) {
	var parent int64
	err := tx.QueryRow(`SELECT COALESCE(parent_id, 0) FROM incidents WHERE id = ?`, id).Scan(&parent)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("load the storm of incident %d: %w", id, err)
	}
	return parent, nil
}

// stormChildren lists a storm's incidents in a state.
func stormChildren(tx *store.Tx, storm int64, states ...Status) ([]int64, error) {
	q := `SELECT id FROM incidents WHERE parent_id = ? AND status = ?`
	if len(states) == 2 {
		q = `SELECT id FROM incidents WHERE parent_id = ? AND status IN (?, ?)`
	}
	args := []any{storm}
	for _, st := range states {
		args = append(args, st)
	}
	rows, err := tx.Query(q, args...)
	if err != nil {
		return nil, fmt.Errorf("list the incidents of storm %d: %w", storm, err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list the incidents of storm %d: %w", storm, err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// ackStorm acknowledges every triggered incident of a storm with it.
func (s *Service) ackStorm(tx *store.Tx, now time.Time, storm int64, actor string) error {
	ids, err := stormChildren(tx, storm, StatusTriggered)
	if err != nil {
		return err
	}
	ms := now.UnixMilli()
	for _, id := range ids {
		if _, err := tx.Exec(`UPDATE incidents SET status = 'acknowledged', acknowledged_at = ?, acknowledged_by = ?, updated_at = ? WHERE id = ?`,
			ms, actor, ms, id); err != nil {
			return fmt.Errorf("acknowledge incident %d with storm %d: %w", id, storm, err)
		}
		if _, err := timer.Cancel(tx, id); err != nil {
			return err
		}
		if err := s.record(tx, now, id, KindAcknowledged, actor, nil, fmt.Sprintf("with storm #%d", storm)); err != nil {
			return err
		}
	}
	return nil
}

// resolveStorm resolves every open incident of a storm with it.
func (s *Service) resolveStorm(tx *store.Tx, now time.Time, storm int64, actor string) error {
	ids, err := stormChildren(tx, storm, StatusTriggered, StatusAcknowledged)
	if err != nil {
		return err
	}
	ms := now.UnixMilli()
	for _, id := range ids {
		if _, err := tx.Exec(`UPDATE alerts SET status = 'resolved', ends_at = ? WHERE incident_id = ? AND status = 'firing'`, ms, id); err != nil {
			return fmt.Errorf("resolve the alerts of incident %d: %w", id, err)
		}
		tx.AfterCommit(func() { s.known.dropIncident(id) })
		if _, err := tx.Exec(`UPDATE incidents SET status = 'resolved', firing_count = 0, resolved_at = ?, resolved_by = ?, updated_at = ? WHERE id = ?`,
			ms, actor, ms, id); err != nil {
			return fmt.Errorf("resolve incident %d with storm %d: %w", id, storm, err)
		}
		if err := s.stopPaging(tx, now, id, actor); err != nil {
			return err
		}
		if err := s.record(tx, now, id, KindResolved, actor, nil, fmt.Sprintf("with storm #%d", storm)); err != nil {
			return err
		}
	}
	_, err = tx.Exec(`UPDATE incidents SET open_children = 0 WHERE id = ?`, storm)
	return err
}
