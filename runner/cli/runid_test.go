package cli

import (
	"sync"
	"testing"
)

func TestUniqueRunIDConcurrent(t *testing.T) {
	const n = 200
	ids := make(chan int64, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() { defer wg.Done(); ids <- uniqueRunID(42) }()
	}
	wg.Wait()
	close(ids)
	seen := map[int64]bool{}
	for id := range ids {
		if seen[id] {
			t.Fatalf("run id %d handed out twice", id)
		}
		seen[id] = true
	}
	want := lastRunID.Load() + 1000
	if got := uniqueRunID(want); got != want {
		t.Errorf("a later clock id %d became %d", want, got)
	}
}
