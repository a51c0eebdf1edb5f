package clock

import (
	"testing"
	"time"
)

func TestFakeFiresTimersInOrderOnlyWhenDue(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFake(start)
	late := f.NewTimer(10 * time.Second)
	early := f.NewTimer(5 * time.Second)
	stopped := f.NewTimer(7 * time.Second)
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop must report true once, then false")
	}
	f.Advance(4 * time.Second)
	select {
	case <-early.C():
		t.Fatal("fired early")
	default:
	}
	f.Advance(6 * time.Second)
	if at := <-early.C(); !at.Equal(start.Add(5 * time.Second)) {
		t.Fatalf("early fired with %v", at)
	}
	if at := <-late.C(); !at.Equal(start.Add(10 * time.Second)) {
		t.Fatalf("late fired with %v", at)
	}
	select {
	case <-stopped.C():
		t.Fatal("a stopped timer fired")
	default:
	}
	if f.Pending() != 0 || late.Stop() {
		t.Fatal("fired timers must be gone")
	}
	if !f.Now().Equal(start.Add(10 * time.Second)) {
		t.Fatalf("now = %v", f.Now())
	}
	f.Set(start) // never backwards
	if !f.Now().Equal(start.Add(10 * time.Second)) {
		t.Fatal("Set moved the clock backwards")
	}
	zero := f.NewTimer(0)
	<-zero.C()
}

func TestTimerCreatedSignalsWaiters(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	ch := f.TimerCreated()
	go f.NewTimer(time.Hour)
	<-ch // a loop armed its timer: now it is safe to advance
	f.Advance(time.Hour)
}
