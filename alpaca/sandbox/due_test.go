package sandbox

import (
	"container/heap"
	"math/rand/v2"
	"testing"
	"time"
)

// refHeap is container/heap over the same steps: the order the due heap must keep, ties included
// (steps due at the same instant come out as they always did, and so do their events).
type refHeap []dueStep

func (h refHeap) Len() int           { return len(h) }
func (h refHeap) Less(i, k int) bool { return h[i].at.Before(h[k].at) }
func (h refHeap) Swap(i, k int)      { h[i], h[k] = h[k], h[i] }
func (h *refHeap) Push(x any)        { *h = append(*h, x.(dueStep)) }
func (h *refHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func TestDueHeapKeepsContainerHeapOrder(t *testing.T) {
	t.Parallel()
	rnd := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)
	var got dueHeap
	var want refHeap
	seq := int32(0)
	for range 20_000 {
		if rnd.IntN(3) > 0 || len(got) == 0 {
			// Few distinct instants, so that most steps tie.
			d := dueStep{at: base.Add(time.Duration(rnd.IntN(8)) * time.Second), seq: seq}
			seq++
			got.push(d)
			heap.Push(&want, d)
			continue
		}
		g, w := got.pop(), heap.Pop(&want).(dueStep)
		if g != w {
			t.Fatalf("popped %+v, container/heap pops %+v", g, w)
		}
	}
}
