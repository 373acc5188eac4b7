package sandbox

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
)

// journalIDs hands out journal ids that look like random version-4 UUIDs but are a keyed
// permutation (a Feistel network) of the journal's position, so that the position is read back
// from the id and no index from id to journal is kept: a million-journal night saves the map's
// 36 bytes or so a journal. The keys are random per simulator, so two simulators never hand out
// the same ids and a client can learn no order from them.
type journalIDs struct {
	keys  [6]uint64
	spare uint64 // the two bits beside the variant that the permutation leaves over
}

func newJournalIDs() journalIDs {
	var k journalIDs
	for i := range k.keys {
		k.keys[i] = rand.Uint64()
	}
	k.spare = rand.Uint64N(4)
	return k
}

// halfMask keeps one Feistel half: 60 bits, so both halves and the fixed bits fit 128.
const halfMask = 1<<60 - 1

func (k *journalIDs) round(x uint64, i int) uint64 {
	// splitmix64's finalizer: a good 64-bit mix, cut to the half's width.
	x ^= k.keys[i]
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return (x ^ x>>31) & halfMask
}

// id is the id of the journal at position seq.
func (k *journalIDs) id(seq int32) [16]byte {
	l, r := uint64(0), uint64(seq)
	for i := range k.keys {
		l, r = r, l^k.round(r, i)
	}
	// l around the version nibble (4), r below the variant (10) and the spare bits.
	hi := l>>12<<16 | 0x4000 | l&0xfff
	lo := 0b10<<62 | k.spare<<60 | r
	var id [16]byte
	binary.BigEndian.PutUint64(id[0:8], hi)
	binary.BigEndian.PutUint64(id[8:16], lo)
	return id
}

// seq is the position of the journal whose id is id; false for an id this simulator never made.
func (k *journalIDs) seq(id [16]byte) (int32, bool) {
	hi, lo := binary.BigEndian.Uint64(id[0:8]), binary.BigEndian.Uint64(id[8:16])
	if hi&0xf000 != 0x4000 || lo>>62 != 0b10 || lo>>60&3 != k.spare {
		return 0, false
	}
	l, r := hi>>16<<12|hi&0xfff, lo&halfMask
	for i := len(k.keys) - 1; i >= 0; i-- {
		l, r = r^k.round(l, i), l
	}
	if l != 0 || r > math.MaxInt32 {
		return 0, false
	}
	return int32(r), true
}
