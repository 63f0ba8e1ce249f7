package torch

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
)

// pairBarrier lets two workers meet: wait(me) returns once the other worker
// has called wait the same number of times.
type pairBarrier [2]chan struct{}

func newPairBarrier() pairBarrier {
	return pairBarrier{make(chan struct{}, 1), make(chan struct{}, 1)}
}

func (b pairBarrier) wait(me int) {
	b[me] <- struct{}{}
	<-b[1-me]
}

// Two workers, each on its own locked OS thread, open and close nested
// scopes in lockstep; whichever closes first must free only its own
// tensors, and the other's must keep their values.
func TestScopesPerThreadWorkers(t *testing.T) {
	base := Live()
	bar := newPairBarrier()
	const rounds = 6
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = OnThread(1, func() error { return scopeWorker(w, rounds, base, bar) })
		}()
	}
	wg.Wait()
	for w, err := range errs {
		if err != nil {
			t.Errorf("worker %d: %v", w, err)
		}
	}
	if Live() != base {
		t.Fatalf("after the workers live %d, want %d", Live(), base)
	}
}

func scopeWorker(me, rounds, base int, bar pairBarrier) error {
	liveIs := func(what string, want int) error {
		if got := Live(); got != base+want {
			return fmt.Errorf("%s: live %d, want %d", what, got-base, want)
		}
		return nil
	}
	valuesAre := func(what string, x *Tensor, want ...float32) error {
		if got := x.Float32s(); !reflect.DeepEqual(got, want) {
			return fmt.Errorf("%s: %v, want %v", what, got, want)
		}
		return nil
	}
	for r := 0; r < rounds; r++ {
		v := float32(100*me + r)
		outer := NewScope()
		x := FromSlice([]float32{v, -v}, 2)
		y := x.MulScalar(2)
		inner := NewScope()
		z := y.AddScalar(1)
		k := z.MulScalar(10).Keep()
		bar.wait(me) // both hold x, y, z, k
		if err := liveIs(fmt.Sprintf("round %d, both open", r), 8); err != nil {
			return err
		}
		bar.wait(me)
		first := r % 2
		if me == first {
			inner.Close() // frees z only
			if err := valuesAre("y after inner close", y, 2*v, -2*v); err != nil {
				return err
			}
			outer.Close() // frees x, y; k was kept
		}
		bar.wait(me)
		if me != first {
			// The other worker closed both its scopes: 1 of its 4 is left.
			if err := liveIs(fmt.Sprintf("round %d, other closed", r), 4+1); err != nil {
				return err
			}
			for _, c := range []struct {
				name string
				x    *Tensor
				want []float32
			}{{"x", x, []float32{v, -v}}, {"y", y, []float32{2 * v, -2 * v}}, {"z", z, []float32{2*v + 1, -2*v + 1}}} {
				if err := valuesAre(c.name+" after the other worker's close", c.x, c.want...); err != nil {
					return err
				}
			}
			// Released inside a scope, k goes to the innermost one.
			k.Release()
			inner.Close()
			outer.Close()
		}
		bar.wait(me)
		if err := liveIs(fmt.Sprintf("round %d, all closed", r), 1); err != nil {
			return err
		}
		bar.wait(me)
		if me == first {
			if err := valuesAre("kept k", k, 10*(2*v+1), 10*(-2*v+1)); err != nil {
				return err
			}
			k.Release() // no scope open on this thread: freed at once
		}
		bar.wait(me)
		if err := liveIs(fmt.Sprintf("round %d, released", r), 0); err != nil {
			return err
		}
		bar.wait(me)
	}
	return nil
}

// A tensor made on a thread with no open scope belongs to no scope, even
// while another thread has one open.
func TestNoScopeThreadIsNotAdopted(t *testing.T) {
	base := Live()
	opened, made := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- OnThread(1, func() error {
			s := NewScope()
			Ones([]int64{2})
			close(opened)
			<-made
			s.Close()
			return nil
		})
	}()
	<-opened
	var u *Tensor
	OnThread(1, func() error { u = Full([]int64{2}, 3); return nil })
	close(made)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := u.Float32s(); !reflect.DeepEqual(got, []float32{3, 3}) {
		t.Fatalf("unscoped tensor after the other thread's scope closed: %v", got)
	}
	u.Free()
	if Live() != base {
		t.Fatalf("live %d, want %d", Live(), base)
	}
}

func TestReleaseUndoesKeep(t *testing.T) {
	base := Live()
	var k *Tensor
	WithScope(func() { k = Ones([]int64{3}).Keep() })
	WithScope(func() {
		k.Release()
		if Live() != base+1 {
			t.Fatalf("released into a scope: live %d, want %d", Live(), base+1)
		}
	})
	if Live() != base {
		t.Fatalf("the scope did not free the released tensor: live %d, want %d", Live(), base)
	}
	k.Release() // already freed: a no-op
	var nilT *Tensor
	nilT.Release()
}
