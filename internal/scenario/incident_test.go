package scenario

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/ingest"
)

func TestAlertsGroupIntoOneIncidentThatResolvesItself(t *testing.T) {
	h := New(t)
	disk1 := Firing("alertname=DiskFull", "instance=db1").Summary("disk full on db1")
	disk2 := Firing("alertname=DiskFull", "instance=db2").Summary("disk full on db2")

	res := h.PostAlerts(disk1)
	if res.New != 1 || res.Accepted != 1 {
		t.Fatalf("first post: %+v", res)
	}
	inc := h.OnlyIncident(res)
	if inc.Status != incident.StatusTriggered || inc.Team != "ops" || inc.Title != "disk full on db1" {
		t.Fatalf("new incident = %+v", inc.Incident)
	}

	// Alertmanager repeats the group: the same fingerprint only updates.
	res = h.PostAlerts(disk1, disk2)
	if res.Updated != 1 || res.New != 1 || len(res.Incidents) != 1 || res.Incidents[0] != inc.ID {
		t.Fatalf("second post = %+v, want 1 updated + 1 new in incident %d", res, inc.ID)
	}
	d := h.Incident(inc.ID)
	if d.AlertCount != 2 || d.FiringCount != 2 {
		t.Fatalf("alert_count=%d firing=%d, want 2/2", d.AlertCount, d.FiringCount)
	}

	// One resolves: still open. Both resolve: resolved by the source.
	h.Clock.Advance(time.Minute)
	h.PostAlerts(disk1.Resolved(h.Clock.Now()), disk2)
	h.ExpectStatus(inc.ID, incident.StatusTriggered)
	h.PostAlerts(disk2.Resolved(h.Clock.Now()))
	d = h.ExpectStatus(inc.ID, incident.StatusResolved)
	if d.ResolvedBy != "alertmanager" || d.AlertCount != 2 || d.FiringCount != 0 {
		t.Fatalf("resolved incident = %+v", d.Incident)
	}
	want := []string{incident.KindTriggered, incident.KindPaging, incident.KindAlertAdded,
		incident.KindAlertResolved, incident.KindAlertResolved, incident.KindResolved}
	if got := Kinds(d); !slices.Equal(got, want) {
		t.Fatalf("timeline = %v, want %v\n%s", got, want, Timeline(d))
	}
	// The outgoing webhook saw the whole story, in order, signed.
	if got := h.Webhook.Events(inc.ID); len(got) != len(d.Timeline) || got[0] != "incident.triggered:triggered" ||
		got[len(got)-1] != "incident.resolved:resolved" {
		t.Fatalf("webhook events = %v", got)
	}
}

func TestDifferentGroupsOpenDifferentIncidents(t *testing.T) {
	h := New(t)
	a := h.OnlyIncident(h.PostAlerts(Firing("alertname=HighLatency", "service=api")))
	b := h.OnlyIncident(h.PostAlerts(Firing("alertname=ReplicationLag", "service=postgres", "cluster=eu")))
	if a.ID == b.ID {
		t.Fatal("alerts of different groups share an incident")
	}
	if b.Team != "dba" || b.Route != "databases" || b.Policy != "dba-default" {
		t.Fatalf("postgres alert routed to %s/%s/%s, want dba/databases/dba-default", b.Team, b.Route, b.Policy)
	}
	// Same alertname, other cluster: group_by [alertname, cluster] splits it.
	c := h.OnlyIncident(h.PostAlerts(Firing("alertname=ReplicationLag", "service=postgres", "cluster=us")))
	if c.ID == b.ID {
		t.Fatal("clusters eu and us were grouped although the route groups by cluster")
	}
}

func TestAlertDelayHoldsPagingBack(t *testing.T) {
	h := New(t)
	// databases route: alert_delay 2m. A blip that clears in a minute
	// never pages anyone.
	blip := Firing("alertname=ConnSpike", "service=mysql", "cluster=eu")
	inc := h.OnlyIncident(h.PostAlerts(blip))
	if inc.PageAt != Start.Add(2*time.Minute) {
		t.Fatalf("page_at = %v, want start+2m", inc.PageAt)
	}
	h.Advance(time.Minute)
	h.PostAlerts(blip.Resolved(h.Clock.Now()))
	d := h.ExpectStatus(inc.ID, incident.StatusResolved)
	if slices.Contains(Kinds(d), incident.KindPaging) || !slices.Contains(Kinds(d), incident.KindNotPaged) {
		t.Fatalf("blip timeline:\n%s", Timeline(d))
	}
	h.Advance(5 * time.Minute)
	if slices.Contains(Kinds(h.Incident(inc.ID)), incident.KindPaging) {
		t.Fatal("a cancelled page timer fired")
	}

	// A real problem pages once it has fired for 2 minutes, not before.
	h.Advance(10 * time.Minute) // past the reopen window
	real := Firing("alertname=DiskLatency", "service=mysql", "cluster=eu").At(h.Clock.Now())
	inc = h.OnlyIncident(h.PostAlerts(real))
	h.Advance(119 * time.Second)
	if slices.Contains(Kinds(h.Incident(inc.ID)), incident.KindPaging) {
		t.Fatal("paged before alert_delay passed")
	}
	h.Advance(time.Second)
	if !slices.Contains(Kinds(h.Incident(inc.ID)), incident.KindPaging) {
		t.Fatalf("no page after alert_delay:\n%s", Timeline(h.Incident(inc.ID)))
	}
}

func TestAlertThatStartedLongAgoPagesAtOnce(t *testing.T) {
	h := New(t)
	// The bot was down when the alert started 10 minutes ago: its
	// alert_delay (2m) is long past, so paging must not wait again.
	old := Firing("alertname=Down", "service=postgres", "cluster=eu").At(Start.Add(-10 * time.Minute))
	inc := h.OnlyIncident(h.PostAlerts(old))
	if !inc.PageAt.Equal(Start) || !slices.Contains(Kinds(h.Incident(inc.ID)), incident.KindPaging) {
		t.Fatalf("page_at=%v, timeline:\n%s", inc.PageAt, Timeline(h.Incident(inc.ID)))
	}
}

func TestRefireInsideWindowReopensLaterOpensNew(t *testing.T) {
	h := New(t)
	flappy := Firing("alertname=Flappy", "instance=web1")
	first := h.OnlyIncident(h.PostAlerts(flappy))
	h.Advance(time.Minute)
	h.PostAlerts(flappy.Resolved(h.Clock.Now()))
	h.ExpectStatus(first.ID, incident.StatusResolved)

	h.Advance(4 * time.Minute) // inside the 5m window
	res := h.PostAlerts(flappy.At(h.Clock.Now()))
	if len(res.Incidents) != 1 || res.Incidents[0] != first.ID {
		t.Fatalf("refire inside the window went to %v, want reopened %d", res.Incidents, first.ID)
	}
	d := h.ExpectStatus(first.ID, incident.StatusTriggered)
	if !slices.Contains(Kinds(d), incident.KindReopened) || d.AlertCount != 1 || d.FiringCount != 1 {
		t.Fatalf("reopened incident alert_count=%d firing=%d:\n%s", d.AlertCount, d.FiringCount, Timeline(d))
	}

	h.PostAlerts(flappy.Resolved(h.Clock.Now()))
	h.Advance(6 * time.Minute) // past the window
	res = h.PostAlerts(flappy.At(h.Clock.Now()))
	if len(res.Incidents) != 1 || res.Incidents[0] == first.ID {
		t.Fatalf("refire after the window went to %v, want a new incident", res.Incidents)
	}
	h.ExpectStatus(first.ID, incident.StatusResolved)
	// Every alert ever attached counts, firing or resolved.
	if d := h.Incident(first.ID); d.AlertCount != 1 || len(d.Alerts) != 1 {
		t.Fatalf("first incident has alert_count=%d alerts=%d, want 1", d.AlertCount, len(d.Alerts))
	}
}

func TestSeverityIsCappedPerRouteAndRaisedByWorseAlerts(t *testing.T) {
	h := New(t)
	// staging caps at warning whatever the alert says.
	st := h.OnlyIncident(h.PostAlerts(Firing("alertname=Oops", "env=staging", "severity=critical")))
	if st.Severity != ingest.SeverityWarning {
		t.Fatalf("staging incident severity = %s, want warning", st.Severity)
	}
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Errors", "instance=a", "severity=warning")))
	if inc.Severity != ingest.SeverityWarning {
		t.Fatalf("severity = %s", inc.Severity)
	}
	h.PostAlerts(Firing("alertname=Errors", "instance=b", "severity=critical"))
	d := h.Incident(inc.ID)
	if d.Severity != ingest.SeverityCritical || !slices.Contains(Kinds(d), incident.KindSeverityRaised) {
		t.Fatalf("severity after a critical alert joined = %s:\n%s", d.Severity, Timeline(d))
	}
}

func TestLifecycleThroughTheAPI(t *testing.T) {
	h := New(t)
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=CPU", "instance=x")))
	path := func(action string) string { return "/api/v1/incidents/" + itoa(inc.ID) + "/" + action }

	steps := []struct {
		action string
		code   int
		status incident.Status
	}{
		{"unack", 409, incident.StatusTriggered},
		{"ack", 200, incident.StatusAcknowledged},
		{"ack", 409, incident.StatusAcknowledged},
		{"unack", 200, incident.StatusTriggered},
		{"ack", 200, incident.StatusAcknowledged},
		{"resolve", 200, incident.StatusResolved},
		{"ack", 409, incident.StatusResolved},
		{"resolve", 409, incident.StatusResolved},
		{"reopen", 200, incident.StatusTriggered},
		{"snooze-forever", 404, incident.StatusTriggered},
	}
	for _, s := range steps {
		h.Clock.Advance(time.Minute)
		r := h.API("POST", path(s.action))
		if r.Code != s.code {
			t.Fatalf("%s: %d %s, want %d", s.action, r.Code, r.Body, s.code)
		}
		if s.code == 409 && r.Error == "" {
			t.Fatalf("%s: 409 without a reason", s.action)
		}
		h.ExpectStatus(inc.ID, s.status)
	}
	d := h.Incident(inc.ID)
	want := []string{incident.KindTriggered, incident.KindPaging, incident.KindAcknowledged,
		incident.KindUnacknowledged, incident.KindAcknowledged, incident.KindResolved, incident.KindReopened}
	if got := Kinds(d); !slices.Equal(got, want) {
		t.Fatalf("timeline = %v, want %v\n%s", got, want, Timeline(d))
	}
	for _, e := range d.Timeline {
		if strings.HasPrefix(e.Kind, "incident.") && e.Kind != incident.KindTriggered && e.Kind != incident.KindPaging && e.Actor != "api:tester" {
			t.Fatalf("%s by %q, want api:tester", e.Kind, e.Actor)
		}
	}
	// A manual resolve marked the alert resolved, so the paging restarted
	// by reopen happens at once and the alert counts as firing no more.
	if d.Alerts[0].Status != ingest.StatusResolved {
		t.Fatalf("alert after manual resolve = %s", d.Alerts[0].Status)
	}
	h.Tick()
	if k := Kinds(h.Incident(inc.ID)); k[len(k)-1] != incident.KindPaging {
		t.Fatalf("reopen did not restart paging: %v", k)
	}
}

func TestAckStopsPagingAndUnackRestartsIt(t *testing.T) {
	h := New(t)
	// databases route delays paging 2 minutes; ack inside that time.
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Slow", "service=postgres", "cluster=eu")))
	h.Advance(time.Minute)
	if r := h.API("POST", "/api/v1/incidents/"+itoa(inc.ID)+"/ack"); r.Code != 200 {
		t.Fatalf("ack: %d %s", r.Code, r.Body)
	}
	h.Advance(10 * time.Minute)
	if slices.Contains(Kinds(h.Incident(inc.ID)), incident.KindPaging) {
		t.Fatal("paged after ack")
	}
	if r := h.API("POST", "/api/v1/incidents/"+itoa(inc.ID)+"/unack"); r.Code != 200 {
		t.Fatalf("unack: %d %s", r.Code, r.Body)
	}
	h.Tick()
	if !slices.Contains(Kinds(h.Incident(inc.ID)), incident.KindPaging) {
		t.Fatal("unack did not restart paging")
	}
}

func TestTimersSurviveRestart(t *testing.T) {
	h := New(t)
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Replica", "service=postgres", "cluster=eu")))
	h.Restart()
	// The page fell due while the bot was down: it runs on the first tick.
	h.Clock.Advance(5 * time.Minute)
	h.Restart()
	h.Tick()
	d := h.Incident(inc.ID)
	n := 0
	for _, k := range Kinds(d) {
		if k == incident.KindPaging {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("paging ran %d times after restarts, want 1:\n%s", n, Timeline(d))
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestStillFiringAfterManualResolveCountsAsRefire(t *testing.T) {
	h := New(t)
	a := Firing("alertname=Stubborn", "instance=x")
	inc := h.OnlyIncident(h.PostAlerts(a))
	h.PostAlerts(a) // a repeat, answered without a write
	if r := h.API("POST", "/api/v1/incidents/"+itoa(inc.ID)+"/resolve"); r.Code != 200 {
		t.Fatalf("resolve: %d %s", r.Code, r.Body)
	}
	// Alertmanager sends the still-firing alert again a minute later:
	// inside the reopen window, the incident comes back.
	h.Advance(time.Minute)
	res := h.PostAlerts(a)
	if res.Refired != 1 || len(res.Incidents) != 1 || res.Incidents[0] != inc.ID {
		t.Fatalf("repeat after manual resolve = %+v, want a refire of incident %d", res, inc.ID)
	}
	h.ExpectStatus(inc.ID, incident.StatusTriggered)
}

func TestRepeatsRefreshLastSeenAtMostEveryMinute(t *testing.T) {
	h := New(t)
	a := Firing("alertname=Repeated")
	inc := h.OnlyIncident(h.PostAlerts(a))
	lastSeen := func() time.Time { return h.Incident(inc.ID).Alerts[0].LastSeenAt }
	h.Advance(30 * time.Second)
	h.PostAlerts(a)
	if got := lastSeen(); !got.Equal(Start) {
		t.Fatalf("last_seen moved to %v on a repeat 30s later; it is refreshed at most once a minute", got)
	}
	h.Advance(31 * time.Second)
	h.PostAlerts(a)
	if got := lastSeen(); !got.Equal(Start.Add(61 * time.Second)) {
		t.Fatalf("last_seen = %v after a repeat 61s later, want start+61s", got)
	}
	// A changed summary is written at once.
	h.PostAlerts(a.Summary("now with a summary"))
	if d := h.Incident(inc.ID); d.Alerts[0].Summary != "now with a summary" {
		t.Fatalf("summary = %q", d.Alerts[0].Summary)
	}
}
