package server

import (
	"fmt"
	"testing"
	"time"
)

func TestJobStoreEvictsOldestFinished(t *testing.T) {
	st := newJobStore(time.Hour)
	start := time.Now()
	for i := range maxFinishedJobs + 3 {
		j := &job{id: fmt.Sprint(i), changed: make(chan struct{}), finished: start.Add(time.Duration(i) * time.Second)}
		st.add(j)
	}
	running := &job{id: "running", changed: make(chan struct{})}
	st.add(running)
	if got := len(st.jobs); got != maxFinishedJobs {
		t.Errorf("jobs kept = %d, want %d (%d finished and one running)", got, maxFinishedJobs, maxFinishedJobs-1)
	}
	for _, id := range []string{"0", "1", "2", "3"} {
		if st.get(id) != nil {
			t.Errorf("get(%q) found the job, want it evicted as one of the oldest", id)
		}
	}
	for _, id := range []string{"4", fmt.Sprint(maxFinishedJobs + 2), "running"} {
		if st.get(id) == nil {
			t.Errorf("get(%q) = nil, want the job kept", id)
		}
	}
}
