package passcode

import (
	"encoding/binary"
	"encoding/hex"
	"errors"

	"github.com/connectorkit/twiliosms/passcode/storage"
)

// The guard keeps, per recipient, a ledger of its sends of the last 25
// hours: one entry per send, in a ring of ledgerEntries, each a few slots
// tagged with the send's time. A verified code takes the ledger (its own
// send is credited, the others are forgiven: a user who asked again and
// got in is no anomaly), a delivery report takes one entry, and so does a
// loop's success: each send is credited or forgiven once.
const (
	ledgerEntries = 16
	entrySlots    = 4
	entryEvent    = 0 // the send's event hash; 0 once taken back
	entryFlags    = 1 // its sendFlags
	entryAddress  = 2 // the 64-bit subject of the address that asked for it
	entryMessage  = 3 // a hash of Twilio's message SID, once it is known
)

// errStoreAnswer is a store's answer of the wrong shape.
var errStoreAnswer = errors.New("passcode: the store answered a read with the wrong number of keys")

// sendData is what a code keeps of its send for the guard, and a ledger
// entry holds.
type sendData struct {
	sent, event, flags, address int64
}

// encode appends d to b, as a code's Data.
func (d sendData) encode(b []byte) []byte {
	for _, v := range [...]int64{d.sent, d.event, d.flags, d.address} {
		b = binary.AppendVarint(b, v)
	}
	return b
}

// decodeSendData reads a code's Data; ok is false for a code kept without
// the guard.
func decodeSendData(b []byte) (d sendData, ok bool) {
	var vs [4]int64
	for i := range vs {
		v, n := binary.Varint(b)
		if n <= 0 {
			return sendData{}, false
		}
		vs[i], b = v, b[n:]
	}
	return sendData{sent: vs[0], event: vs[1], flags: vs[2], address: vs[3]}, true
}

// eventHash names an event in the ledger: 63 bits of its ID, which is
// random (newID), never 0.
func eventHash(id string) int64 {
	var b [8]byte
	if len(id) < 16 {
		return hash63("event", id)
	}
	if _, err := hex.Decode(b[:], []byte(id[:16])); err != nil {
		return hash63("event", id)
	}
	return int64(binary.BigEndian.Uint64(b[:])>>1) | 1
}

// messageHash names a Twilio message in the ledger.
func messageHash(sid string) int64 { return hash63("message", sid) }

func hash63(kind, s string) int64 {
	sum := digest(nil, kind, s)
	return int64(binary.BigEndian.Uint64(sum[:8])>>1) | 1
}

// ledgerEntry is one send in a recipient's ledger.
type ledgerEntry struct {
	slot int // the entry's place in the ring
	sendData
	message int64
}

// set reads slot sl into the entry at place k.
func (e *ledgerEntry) set(k int, sl storage.Slot) {
	e.slot, e.sent = k, sl.Epoch
	switch sl.Index % entrySlots {
	case entryEvent:
		e.event = sl.Value
	case entryFlags:
		e.flags = sl.Value
	case entryAddress:
		e.address = sl.Value
	case entryMessage:
		e.message = sl.Value
	}
}

// readLedger returns the live entries of a ledger's slots at t: those
// written in the last 25 hours and not taken back. A place's slots of an
// older entry are left out.
func readLedger(slots []storage.Slot, t int64) []ledgerEntry {
	var newest [ledgerEntries]int64
	for _, sl := range slots {
		if k := sl.Index / entrySlots; k >= 0 && k < ledgerEntries && sl.Epoch > t-keepLedger {
			newest[k] = max(newest[k], sl.Epoch)
		}
	}
	var byPlace [ledgerEntries]ledgerEntry
	for _, sl := range slots {
		k := sl.Index / entrySlots
		if k < 0 || k >= ledgerEntries || newest[k] == 0 || sl.Epoch != newest[k] {
			continue
		}
		byPlace[k].set(k, sl)
	}
	var out []ledgerEntry
	for _, e := range byPlace {
		if e.event != 0 {
			out = append(out, e)
		}
	}
	return out
}

// ledgerSlotFor returns the ring place for a new entry at t: a free one,
// else the oldest.
func ledgerSlotFor(slots []storage.Slot, t int64) int {
	var newest [ledgerEntries]int64
	for _, sl := range slots {
		if k := sl.Index / entrySlots; k >= 0 && k < ledgerEntries && sl.Index%entrySlots == entryEvent && sl.Epoch > t-keepLedger {
			newest[k] = max(newest[k], sl.Epoch)
		}
	}
	best := 0
	for k := range newest {
		if newest[k] == 0 {
			return k
		}
		if newest[k] < newest[best] {
			best = k
		}
	}
	return best
}
