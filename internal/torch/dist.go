package torch

/*
#include <stdlib.h>
#include "rt.h"
*/
import "C"

import (
	bin "encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// GroupOptions say how a process joins a process group.
type GroupOptions struct {
	Addr      string // the TCP store's host (MASTER_ADDR)
	Port      int    // its port (MASTER_PORT)
	HostStore bool   // this process serves the store (rank 0, unless torchrun's agent does)
	Prefix    string // key prefix in the store ("" for none)
	Rank      int
	World     int
	// Timeout bounds joining, every store wait and every collective: a rank
	// that died or hangs makes the others fail within it.
	Timeout time.Duration
	// CUDADevice >= 0 adds an NCCL backend on that device for CUDA tensors
	// (a CUDA libtorch only); CPU tensors always travel through Gloo.
	CUDADevice int
}

// Group is a c10d process group: collectives over every rank's tensors.
// Collectives panic with *Error like ops; the message names the rank that
// did not take part when that can be told (see diagnose). Use a Group from
// one goroutine.
type Group struct {
	h       *C.rt_dist
	o       GroupOptions
	seq     int64 // collectives this rank has entered
	start   time.Time
	gathers int
}

// HasNCCL reports whether this libtorch has NCCL (CUDA builds).
func HasNCCL() bool { return C.rt_dist_has_nccl() != 0 }

// NewGroup joins (or, with HostStore, serves) the store and creates the
// backends; it returns once all World ranks have joined, or fails after
// Timeout.
func NewGroup(o GroupOptions) (*Group, error) {
	if o.World < 1 || o.Rank < 0 || o.Rank >= o.World {
		return nil, fmt.Errorf("process group: rank %d of %d", o.Rank, o.World)
	}
	if o.Timeout <= 0 {
		return nil, fmt.Errorf("process group: timeout %v must be positive", o.Timeout)
	}
	g := &Group{o: o}
	err := Try(func() {
		addr, free := cstr(o.Addr)
		defer free()
		prefix, freeP := cstr(o.Prefix)
		defer freeP()
		check(C.rt_dist_new(addr, C.int(o.Port), cbool(o.HostStore), prefix, C.int(o.Rank), C.int(o.World),
			C.int64_t(o.Timeout.Milliseconds()), C.int(o.CUDADevice), &g.h))
	})
	if err != nil {
		return nil, fmt.Errorf("process group: rank %d of %d could not join through the store at %s:%d within %v: %s",
			o.Rank, o.World, o.Addr, o.Port, o.Timeout, strings.TrimPrefix(err.Error(), "torch: "))
	}
	return g, nil
}

// Rank is this process's rank.
func (g *Group) Rank() int { return g.o.Rank }

// World is the number of ranks.
func (g *Group) World() int { return g.o.World }

// Timeout is the group's bound on every wait.
func (g *Group) Timeout() time.Duration { return g.o.Timeout }

// Close leaves the group.
func (g *Group) Close() {
	if g == nil || g.h == nil {
		return
	}
	C.rt_dist_free(g.h)
	g.h = nil
}

// AllReduce replaces every ts[i] in place with scale times its sum over the
// ranks. Tensors travel in flat buckets of at most bucketBytes (0: one tensor
// at a time); every rank passes the same shapes in the same order.
func (g *Group) AllReduce(ts []*Tensor, bucketBytes int64, scale float64) {
	hs := handles(ts)
	g.collective("all-reduce", func() *C.char {
		return C.rt_dist_all_reduce(g.h, handlesPtr(hs), C.int(len(hs)), C.int64_t(bucketBytes), C.double(scale))
	})
}

// Broadcast makes every rank's ts[i] root's, bucketed as AllReduce.
func (g *Group) Broadcast(ts []*Tensor, bucketBytes int64, root int) {
	hs := handles(ts)
	g.collective("broadcast", func() *C.char {
		return C.rt_dist_broadcast(g.h, handlesPtr(hs), C.int(len(hs)), C.int64_t(bucketBytes), C.int(root))
	})
}

// Barrier returns when every rank has reached it.
func (g *Group) Barrier() {
	g.collective("barrier", func() *C.char { return C.rt_dist_barrier(g.h) })
}

// AllGatherInt64s returns every rank's v, indexed by rank (lengths may
// differ). It goes through the store: meant for small records.
func (g *Group) AllGatherInt64s(v []int64) [][]int64 {
	g.gathers++
	key := func(r int) string { return fmt.Sprintf("racnn/gather/%d/%d", g.gathers, r) }
	out := make([][]int64, g.o.World)
	g.collectiveGo("all-gather", func() error {
		buf := make([]byte, 8*len(v))
		for i, x := range v {
			bin.LittleEndian.PutUint64(buf[8*i:], uint64(x))
		}
		if err := g.storeSet(key(g.o.Rank), buf); err != nil {
			return err
		}
		for r := range out {
			b, err := g.storeGet(key(r), g.o.Timeout)
			if err != nil {
				return err
			}
			out[r] = make([]int64, len(b)/8)
			for i := range out[r] {
				out[r][i] = int64(bin.LittleEndian.Uint64(b[8*i:]))
			}
		}
		return nil
	})
	return out
}

// Fail tells the other ranks why this one stops, so that their error names
// it and its reason instead of a lost connection. Best effort.
func (g *Group) Fail(reason string) {
	if g == nil || g.h == nil {
		return
	}
	_ = g.storeSet(fmt.Sprintf("racnn/failed/%d", g.o.Rank), []byte(reason))
}

// collective runs one collective after leaving a mark in the store (how far
// this rank got), and on failure panics with a message that names the rank
// that failed or fell behind.
func (g *Group) collective(op string, call func() *C.char) {
	g.collectiveGo(op, func() error { return fromC(call()) })
}

func (g *Group) collectiveGo(op string, call func() error) {
	must(g.h != nil, "process group: used after Close")
	g.seq++
	g.start = time.Now()
	err := g.storeSet(g.markKey(g.o.Rank), []byte(strconv.FormatInt(g.seq, 10)))
	if err == nil {
		err = call()
	}
	if err != nil {
		panic(&Error{Msg: g.diagnose(op, err.Error())})
	}
}

func (g *Group) markKey(r int) string { return fmt.Sprintf("racnn/at/%d", r) }

// diagnose explains a failed collective: a rank that said why it stopped
// (Fail), a rank behind this one (it exited, or hangs when the collective
// ran into the timeout), or the store gone with the rank that served it.
func (g *Group) diagnose(op, cause string) string {
	waited := time.Since(g.start).Round(time.Millisecond)
	head := fmt.Sprintf("rank %d: %s #%d failed after %v", g.o.Rank, op, g.seq, waited)
	var why []string
	for r := 0; r < g.o.World; r++ {
		if r == g.o.Rank {
			continue
		}
		if b, ok, err := g.storeLookup(fmt.Sprintf("racnn/failed/%d", r)); err != nil {
			who := "rank 0"
			if !g.o.HostStore && g.o.Prefix != "" {
				who = "torchrun's agent"
			}
			return fmt.Sprintf("%s: the store at %s:%d is gone (%s served it: did it exit?): %s", head, g.o.Addr, g.o.Port, who, cause)
		} else if ok {
			why = append(why, fmt.Sprintf("rank %d stopped: %s", r, b))
			continue
		}
		b, ok, _ := g.storeLookup(g.markKey(r))
		var at int64
		if ok {
			at, _ = strconv.ParseInt(string(b), 10, 64)
		}
		if at < g.seq {
			state := "exited or lost its connection"
			if waited >= g.o.Timeout-time.Second {
				state = fmt.Sprintf("did not reach it within runtime.dist_timeout %v (hung or still busy)", g.o.Timeout)
			}
			why = append(why, fmt.Sprintf("rank %d %s (its last collective was #%d)", r, state, at))
		}
	}
	if len(why) == 0 {
		// Every peer reached this collective: one of them left during it.
		var peers []string
		for r := 0; r < g.o.World; r++ {
			if r != g.o.Rank {
				peers = append(peers, strconv.Itoa(r))
			}
		}
		if len(peers) == 1 {
			why = append(why, fmt.Sprintf("rank %s exited or lost its connection during it", peers[0]))
		} else {
			why = append(why, fmt.Sprintf("one of ranks %s exited or lost its connection during it", strings.Join(peers, ", ")))
		}
	}
	return fmt.Sprintf("%s: %s; %s", head, strings.Join(why, "; "), cause)
}

func takeString(msg *C.char) string {
	s := C.GoString(msg)
	C.rt_free_string(msg)
	return s
}

// storeErr is a store call's failure, libtorch's message taken.
type storeErr struct{ msg string }

func (e *storeErr) Error() string { return e.msg }

func fromC(msg *C.char) error {
	if msg == nil {
		return nil
	}
	return &storeErr{takeString(msg)}
}

func (g *Group) storeSet(key string, val []byte) error {
	k, free := cstr(key)
	defer free()
	var p unsafe.Pointer
	if len(val) > 0 {
		p = C.CBytes(val)
		defer C.free(p)
	}
	return fromC(C.rt_dist_store_set(g.h, k, p, C.size_t(len(val))))
}

func (g *Group) storeGet(key string, timeout time.Duration) ([]byte, error) {
	k, free := cstr(key)
	defer free()
	var p unsafe.Pointer
	var n C.size_t
	if err := fromC(C.rt_dist_store_get(g.h, k, C.int64_t(timeout.Milliseconds()), &p, &n)); err != nil {
		return nil, err
	}
	defer C.rt_free(p)
	return C.GoBytes(p, C.int(n)), nil
}

// storeLookup reads key if it is set, without waiting.
func (g *Group) storeLookup(key string) ([]byte, bool, error) {
	k, free := cstr(key)
	defer free()
	var present C.int
	if err := fromC(C.rt_dist_store_check(g.h, k, &present)); err != nil {
		return nil, false, err
	}
	if present == 0 {
		return nil, false, nil
	}
	b, err := g.storeGet(key, time.Second)
	return b, err == nil, err
}
