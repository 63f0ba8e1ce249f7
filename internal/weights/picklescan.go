package weights

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// gopickle allocates whatever a length field asks for before reading it (a
// 13-byte pickle whose FRAME claims 2^40 bytes is an out-of-memory crash,
// not an error) and a MARK costs it a 256-byte stack, so every pickle is
// walked opcode by opcode first, in the manner of Python's
// pickletools.genops, and refused unless each length fits in the bytes that
// are left and the objects it would build fit in a budget proportional to
// its size.

const (
	// maxMarkDepth bounds MARKs open at once; a state dict needs 3 or 4.
	maxMarkDepth = 256
	// maxLongBytes bounds LONG arguments: torch writes sizes and the legacy
	// magic number, which fit in 16 bytes.
	maxLongBytes = 64
	// pickleFixedBudget and pickleBudgetPerByte give the most a pickle may
	// cost to unpickle by the estimates below: the pickle of a state dict of
	// 20,000 tensors costs about 34 times its size by them (gopickle
	// allocates about half that).
	pickleFixedBudget   = 16 << 20
	pickleBudgetPerByte = 64
)

// Estimated bytes gopickle allocates per opcode (a stack slot, a MARK's
// fresh stack, a container, a memo entry, an object built by a call).
const (
	costPush   = 48
	costMark   = 16*16 + 48
	costBox    = 160
	costCall   = 320
	costMemo   = 96
	costPerArg = 3 // per byte of a string, bytes or line argument
)

// opArg is how an opcode's argument is laid out in the stream.
type opArg int8

const (
	argNone   opArg = iota
	argFixed        // a fixed number of bytes (opInfo.n)
	argLine         // up to and including '\n'
	argLines2       // two lines (GLOBAL, INST)
	argLen1         // 1-byte length, then that many bytes
	argLen4         // 4-byte little-endian length, then the bytes
	argLen8         // 8-byte little-endian length, then the bytes
	argFrame        // 8-byte little-endian frame length
)

type opInfo struct {
	name  string
	arg   opArg
	n     int   // argFixed: bytes
	cost  int64 // estimated allocation besides the argument
	marks int   // +1 opens a MARK, -1 closes one
}

var pickleOps = func() [256]*opInfo {
	var t [256]*opInfo
	def := func(code byte, name string, arg opArg, n int, cost int64, marks int) {
		t[code] = &opInfo{name, arg, n, cost, marks}
	}
	// Protocols 0 and 1.
	def('(', "MARK", argNone, 0, costMark, +1)
	def('.', "STOP", argNone, 0, 0, 0)
	def('0', "POP", argNone, 0, 0, 0)
	def('1', "POP_MARK", argNone, 0, 0, -1)
	def('2', "DUP", argNone, 0, costPush, 0)
	def('F', "FLOAT", argLine, 0, costPush, 0)
	def('I', "INT", argLine, 0, costPush, 0)
	def('J', "BININT", argFixed, 4, costPush, 0)
	def('K', "BININT1", argFixed, 1, costPush, 0)
	def('L', "LONG", argLine, 0, costBox, 0)
	def('M', "BININT2", argFixed, 2, costPush, 0)
	def('N', "NONE", argNone, 0, costPush, 0)
	def('P', "PERSID", argLine, 0, costCall, 0)
	def('Q', "BINPERSID", argNone, 0, costCall, 0)
	def('R', "REDUCE", argNone, 0, costCall, 0)
	def('S', "STRING", argLine, 0, costPush, 0)
	def('T', "BINSTRING", argLen4, 0, costPush, 0)
	def('U', "SHORT_BINSTRING", argLen1, 0, costPush, 0)
	def('V', "UNICODE", argLine, 0, costPush, 0)
	def('X', "BINUNICODE", argLen4, 0, costPush, 0)
	def('a', "APPEND", argNone, 0, costPush, 0)
	def('b', "BUILD", argNone, 0, costCall, 0)
	def('c', "GLOBAL", argLines2, 0, costCall, 0)
	def('d', "DICT", argNone, 0, costBox, -1)
	def('}', "EMPTY_DICT", argNone, 0, costBox, 0)
	def('e', "APPENDS", argNone, 0, costBox, -1)
	def('g', "GET", argLine, 0, costPush, 0)
	def('h', "BINGET", argFixed, 1, costPush, 0)
	def('i', "INST", argLines2, 0, costCall, -1)
	def('j', "LONG_BINGET", argFixed, 4, costPush, 0)
	def('l', "LIST", argNone, 0, costBox, -1)
	def(']', "EMPTY_LIST", argNone, 0, costBox, 0)
	def('o', "OBJ", argNone, 0, costCall, -1)
	def('p', "PUT", argLine, 0, costMemo, 0)
	def('q', "BINPUT", argFixed, 1, costMemo, 0)
	def('r', "LONG_BINPUT", argFixed, 4, costMemo, 0)
	def('s', "SETITEM", argNone, 0, costPush, 0)
	def('t', "TUPLE", argNone, 0, costBox, -1)
	def(')', "EMPTY_TUPLE", argNone, 0, costBox, 0)
	def('u', "SETITEMS", argNone, 0, costBox, -1)
	def('G', "BINFLOAT", argFixed, 8, costPush, 0)
	// Protocol 2.
	def(0x80, "PROTO", argFixed, 1, 0, 0)
	def(0x81, "NEWOBJ", argNone, 0, costCall, 0)
	def(0x82, "EXT1", argFixed, 1, costCall, 0)
	def(0x83, "EXT2", argFixed, 2, costCall, 0)
	def(0x84, "EXT4", argFixed, 4, costCall, 0)
	def(0x85, "TUPLE1", argNone, 0, costBox, 0)
	def(0x86, "TUPLE2", argNone, 0, costBox, 0)
	def(0x87, "TUPLE3", argNone, 0, costBox, 0)
	def(0x88, "NEWTRUE", argNone, 0, costPush, 0)
	def(0x89, "NEWFALSE", argNone, 0, costPush, 0)
	def(0x8a, "LONG1", argLen1, 0, costBox, 0)
	def(0x8b, "LONG4", argLen4, 0, costBox, 0)
	// Protocol 3.
	def('B', "BINBYTES", argLen4, 0, costPush, 0)
	def('C', "SHORT_BINBYTES", argLen1, 0, costPush, 0)
	// Protocol 4.
	def(0x8c, "SHORT_BINUNICODE", argLen1, 0, costPush, 0)
	def(0x8d, "BINUNICODE8", argLen8, 0, costPush, 0)
	def(0x8e, "BINBYTES8", argLen8, 0, costPush, 0)
	def(0x8f, "EMPTY_SET", argNone, 0, costBox, 0)
	def(0x90, "ADDITEMS", argNone, 0, costBox, -1)
	def(0x91, "FROZENSET", argNone, 0, costBox, -1)
	def(0x92, "NEWOBJ_EX", argNone, 0, costCall, 0)
	def(0x93, "STACK_GLOBAL", argNone, 0, costCall, 0)
	def(0x94, "MEMOIZE", argNone, 0, costMemo, 0)
	def(0x95, "FRAME", argFrame, 0, 0, 0)
	// Protocol 5.
	def(0x96, "BYTEARRAY8", argLen8, 0, costPush, 0)
	def(0x97, "NEXT_BUFFER", argNone, 0, costPush, 0)
	def(0x98, "READONLY_BUFFER", argNone, 0, costPush, 0)
	return t
}()

// scanPickle walks the pickle at the start of b up to its STOP opcode and
// returns the offset just past it and the estimated bytes it will cost to
// unpickle. It fails, before anything is unpickled,
// on an unknown opcode, a length that runs past the end of b, MARKs nested
// deeper than maxMarkDepth, an oversized LONG, or a pickle whose objects
// would cost more than its budget.
func scanPickle(b []byte) (end int, cost int64, err error) {
	budget := pickleFixedBudget + pickleBudgetPerByte*int64(len(b))
	depth := 0
	pos := 0
	for pos < len(b) {
		at := pos
		code := b[pos]
		op := pickleOps[code]
		pos++
		if op == nil {
			return 0, 0, fmt.Errorf("unknown pickle opcode 0x%02x at byte %d", code, at)
		}
		left := len(b) - pos
		// n is the argument's length in bytes after any length field.
		var n uint64
		switch op.arg {
		case argFixed:
			n = uint64(op.n)
		case argLine, argLines2:
			lines := 1
			if op.arg == argLines2 {
				lines = 2
			}
			end := pos
			for range lines {
				i := bytes.IndexByte(b[end:], '\n')
				if i < 0 {
					return 0, 0, fmt.Errorf("pickle opcode %s at byte %d: its argument runs past the end (%d bytes)", op.name, at, len(b))
				}
				end += i + 1
			}
			n = uint64(end - pos)
		case argLen1, argLen4, argLen8, argFrame:
			w := map[opArg]int{argLen1: 1, argLen4: 4, argLen8: 8, argFrame: 8}[op.arg]
			if left < w {
				return 0, 0, fmt.Errorf("pickle opcode %s at byte %d: its length field runs past the end (%d bytes)", op.name, at, len(b))
			}
			switch w {
			case 1:
				n = uint64(b[pos])
			case 4:
				n = uint64(binary.LittleEndian.Uint32(b[pos:]))
				if code == 'T' || code == 0x8b { // signed lengths
					if int32(n) < 0 {
						return 0, 0, fmt.Errorf("pickle opcode %s at byte %d: negative length %d", op.name, at, int32(n))
					}
				}
			case 8:
				n = binary.LittleEndian.Uint64(b[pos:])
			}
			pos += w
			left -= w
			if op.arg == argFrame {
				// A frame's bytes are the opcodes that follow it.
				if n > uint64(left) {
					return 0, 0, fmt.Errorf("pickle FRAME at byte %d claims %d bytes, only %d are left", at, n, left)
				}
				cost += int64(n)
				n = 0
			}
		}
		if n > uint64(left) {
			return 0, 0, fmt.Errorf("pickle opcode %s at byte %d claims %d bytes, only %d are left", op.name, at, n, left)
		}
		if (code == 'L' || code == 0x8a || code == 0x8b) && n > maxLongBytes {
			return 0, 0, fmt.Errorf("pickle opcode %s at byte %d: a %d-byte integer, over the %d-byte limit", op.name, at, n, maxLongBytes)
		}
		pos += int(n)
		cost += op.cost + costPerArg*int64(n)
		if cost > budget {
			return 0, 0, fmt.Errorf("the pickle would need more than %d MiB of memory to unpickle (%d bytes long): not a state dict, or corrupt", budget>>20, len(b))
		}
		depth = max(depth+op.marks, 0)
		if depth > maxMarkDepth {
			return 0, 0, fmt.Errorf("pickle nested deeper than %d levels at byte %d: not a state dict, or corrupt", maxMarkDepth, at)
		}
		if code == '.' {
			return pos, cost, nil
		}
	}
	if len(b) == 0 {
		return 0, 0, errors.New("empty pickle")
	}
	return 0, 0, fmt.Errorf("pickle ends without its STOP opcode (%d bytes)", len(b))
}
