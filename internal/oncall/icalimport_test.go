package oncall

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/config"
)

const teamCalendar = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n" +
	// A weekly recurring weekend shift for alice, named by email.
	"BEGIN:VEVENT\r\nUID:w1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260228T090000Z\r\nDTEND:20260302T090000Z\r\n" +
	"RRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:Weekend cover\r\nATTENDEE;CN=Alice:mailto:Alice@Example.com\r\nEND:VEVENT\r\n" +
	// A one-off for bob, named in the summary.
	"BEGIN:VEVENT\r\nUID:o1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260303T120000Z\r\nDTEND:20260303T180000Z\r\n" +
	"SUMMARY:On call: Bob Brown\r\nEND:VEVENT\r\n" +
	"END:VCALENDAR\r\n"

func TestImportShiftsFromACalendar(t *testing.T) {
	people := peopleIndex([]config.Person{
		{Name: "alice", Email: "alice@example.com"}, {Name: "bob", FullName: "Bob Brown"},
	})
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	shifts, err := ImportShifts(strings.NewReader(teamCalendar), people, now)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range shifts {
		got = append(got, s.User+" "+s.Start.Format("01-02 15:04")+"-"+s.End.Format("01-02 15:04"))
	}
	want := []string{
		"alice 02-28 09:00-03-02 09:00", "bob 03-03 12:00-03-03 18:00", "alice 03-07 09:00-03-09 09:00",
		"alice 03-14 09:00-03-16 09:00", "alice 03-21 09:00-03-23 09:00",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("shifts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// As a layer over a base rotation: the imported shifts win where they
	// have someone.
	s, err := NewSchedule("s", time.UTC, []Layer{
		{Name: "base", Unit: Weekly, Every: 1, Start: Wall{2026, 1, 5, 9, 0}, Participants: []string{"carol"}},
		{Name: "import", Unit: Daily, Every: 1, Shifts: shifts},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), "alice"},
		{time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC), "carol"},
		{time.Date(2026, 3, 3, 13, 0, 0, 0, time.UTC), "bob"},
		{time.Date(2026, 3, 8, 23, 0, 0, 0, time.UTC), "alice"},
	} {
		if got := s.OnCall(c.at); !slices.Equal(got, []string{c.want}) {
			t.Errorf("at %v on call %v, want %s", c.at, got, c.want)
		}
	}
	// Boundaries of imported shifts are handoffs in the final schedule.
	final := s.Final(time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC))
	if len(final) != 3 || !slices.Equal(final[1].Users, []string{"bob"}) {
		t.Fatalf("final = %+v", final)
	}
}

func TestImportRefusesUnknownPeople(t *testing.T) {
	cal := strings.Replace(teamCalendar, "On call: Bob Brown", "On call: Robert", 1)
	_, err := ImportShifts(strings.NewReader(cal), peopleIndex([]config.Person{{Name: "alice", Email: "alice@example.com"}}), time.Now())
	if err == nil || !strings.Contains(err.Error(), "names nobody known") {
		t.Fatalf("err = %v", err)
	}
	if _, err := ImportShifts(strings.NewReader("not a calendar"), nil, time.Now()); err == nil {
		t.Fatal("garbage accepted")
	}
}
